using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Feedback;

/// <summary>A user's rating of a reply: given, changed, read and taken back; only on their own replies.</summary>
public class FeedbackTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    /// <summary>A turn in a new session of the caller's: the session, the user message and the reply.</summary>
    public static async Task<(string Session, string Question, string Reply)> TurnAsync(HttpClient client, object? session = null)
    {
        var id = (await (await client.PostAsJsonAsync("/v1/chat/sessions", session ?? new { model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var turn = await (await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages", new { content = "Is the sky blue?" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        return (id, turn.GetProperty("user_message").Str("id"), turn.GetProperty("assistant_message").Str("id"));
    }

    private Task<long> StoredAsync(string messageId) =>
        api.ScalarAsync<long>("SELECT count(*) FROM message_feedback WHERE message_id = @id::uuid", new { id = messageId });

    [Fact]
    public async Task Feedback_IsSet_ThenReplacedByAnotherPut_ThenDeleted()
    {
        var client = api.UserClient("rater");
        var (session, _, reply) = await TurnAsync(client);

        var first = await (await client.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "up", comment = "  Clear answer.  " }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        first.Str("message_id").Should().Be(reply);
        first.Str("session_id").Should().Be(session);
        first.Str("rating").Should().Be("up");
        first.Str("comment").Should().Be("Clear answer.");
        (await (await client.GetAsync($"/v1/chat/messages/{reply}/feedback")).ShouldBeJsonAsync(HttpStatusCode.OK)).Str("rating").Should().Be("up");

        var changed = await (await client.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "down" })).ShouldBeJsonAsync(HttpStatusCode.OK);
        changed.Str("rating").Should().Be("down");
        changed.GetProperty("comment").ValueKind.Should().Be(JsonValueKind.Null, "a PUT replaces the rating whole, comment included");
        changed.GetProperty("created_at").GetDateTime().Should().Be(first.GetProperty("created_at").GetDateTime());
        changed.GetProperty("updated_at").GetDateTime().Should().BeAfter(first.GetProperty("updated_at").GetDateTime());
        (await StoredAsync(reply)).Should().Be(1, "one rating per user and message");

        (await client.DeleteAsync($"/v1/chat/messages/{reply}/feedback")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await StoredAsync(reply)).Should().Be(0);
        await (await client.GetAsync($"/v1/chat/messages/{reply}/feedback")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/v1/chat/messages/{reply}/feedback")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task AnotherUsersReply_IsNotFound_ForEveryMethod_AndTheirRatingStays()
    {
        var owner = api.UserClient("reply-owner");
        var (_, _, reply) = await TurnAsync(owner);
        await (await owner.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "up", comment = "mine" })).ShouldBeJsonAsync(HttpStatusCode.OK);
        var intruder = api.UserClient("reply-intruder");

        await (await intruder.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "down" })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await intruder.GetAsync($"/v1/chat/messages/{reply}/feedback")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await intruder.DeleteAsync($"/v1/chat/messages/{reply}/feedback")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await api.ClientFor(null).PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "down" })).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);

        var kept = await (await owner.GetAsync($"/v1/chat/messages/{reply}/feedback")).ShouldBeJsonAsync(HttpStatusCode.OK);
        (kept.Str("rating"), kept.Str("comment")).Should().Be(("up", "mine"));
        (await StoredAsync(reply)).Should().Be(1);
    }

    [Fact]
    public async Task AUserTurn_AGuestSessionsReply_OrAnUnknownId_CannotBeRated_404()
    {
        var client = api.UserClient("turn-rater");
        var (_, question, _) = await TurnAsync(client);
        var guest = await (await api.ClientFor(null).PostAsJsonAsync("/v1/chat/stream", new { query = "as a guest", stream = false })).ShouldBeJsonAsync(HttpStatusCode.OK);

        foreach (var id in new[] { question, guest.GetProperty("message").Str("id"), Guid.CreateVersion7().ToString() })
        {
            await (await client.PutAsJsonAsync($"/v1/chat/messages/{id}/feedback", new { rating = "up" })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
            (await StoredAsync(id)).Should().Be(0);
        }
    }

    [Theory]
    [InlineData("""{"rating": "sideways"}""", "rating")]
    [InlineData("""{"comment": "no rating"}""", "rating")]
    [InlineData("""{"rating": null}""", "rating")]
    [InlineData("""{"rating": "UP"}""", "rating")]
    public async Task ARatingOtherThanUpOrDown_Is422_NamingIt(string body, string field)
    {
        var client = api.UserClient("bad-rater");
        var (_, _, reply) = await TurnAsync(client);

        var problem = await (await client.PutAsync($"/v1/chat/messages/{reply}/feedback", new StringContent(body, System.Text.Encoding.UTF8, "application/json")))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue(problem.ToString());
        (await StoredAsync(reply)).Should().Be(0);
    }

    [Fact]
    public async Task AComment_OfUpTo2000Characters_IsKept_AndALongerOne_Is422()
    {
        var client = api.UserClient("commenter");
        var (_, _, reply) = await TurnAsync(client);

        var problem = await (await client.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "down", comment = new string('x', 2001) }))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").TryGetProperty("comment", out _).Should().BeTrue(problem.ToString());
        (await StoredAsync(reply)).Should().Be(0);

        var kept = await (await client.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "down", comment = new string('x', 2000) }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        kept.Str("comment").Should().HaveLength(2000);
    }

    [Fact]
    public async Task Feedback_GoesWithItsMessage_WhenItOrATurnAboveIsDeleted_OrTheSessionIsReset_OrDeleted()
    {
        var client = api.UserClient("forgetter");
        var (pruned, prunedQuestion, prunedReply) = await TurnAsync(client);
        var (reset, _, resetReply) = await TurnAsync(client);
        var (deleted, _, deletedReply) = await TurnAsync(client);
        var (_, _, keptReply) = await TurnAsync(client);
        foreach (var reply in new[] { prunedReply, resetReply, deletedReply, keptReply })
            await (await client.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "up" })).ShouldBeJsonAsync(HttpStatusCode.OK);

        (await client.DeleteAsync($"/v1/chat/sessions/{pruned}/messages/{prunedQuestion}")).EnsureSuccessStatusCode();
        (await client.PostAsync($"/v1/chat/sessions/{reset}/reset", null)).EnsureSuccessStatusCode();
        (await client.DeleteAsync($"/v1/chat/sessions/{deleted}")).EnsureSuccessStatusCode();

        (await StoredAsync(prunedReply)).Should().Be(0, "the reply went with the turn above it");
        (await StoredAsync(resetReply)).Should().Be(0);
        (await StoredAsync(deletedReply)).Should().Be(0);
        (await StoredAsync(keptReply)).Should().Be(1, "its session was left alone");
    }
}
