using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Feedback;

/// <summary>
/// The admins' list over three ratings (its own database: the totals are exact): two users, an assistant's session and a
/// plain one, two models, both ratings, one rating given in January 2026.
/// </summary>
public class ListFeedbackTests : IClassFixture<ListFeedbackTests.Rated>
{
    public sealed class Rated : ChatApiFactory
    {
        public string Assistant { get; private set; } = "";
        /// <summary>Alice's "up" on the assistant's reply (fake-gpt).</summary>
        public string AliceUp { get; private set; } = "";
        /// <summary>Alice's "down" on a plain session's reply (local-chat).</summary>
        public string AliceDown { get; private set; } = "";
        /// <summary>Bob's "down" on the assistant's reply (fake-gpt), given on 2026-01-15.</summary>
        public string BobOld { get; private set; } = "";

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Assistant = (await (await AdminClient().PostAsJsonAsync("/v1/assistants", new { name = "Rated helper", model = "fake-gpt" }))
                .ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
            var alice = ClientFor(Tokens.For("alice", name: "Alice"));
            var bob = ClientFor(Tokens.For("bob", name: "Bob"));
            BobOld = await RateAsync(bob, new { assistant_id = Assistant }, new { rating = "down", comment = "Wrong about the sky." });
            await ExecuteAsync($"UPDATE message_feedback SET created_at = '2026-01-15T10:00:00Z', updated_at = '2026-01-15T10:00:00Z' WHERE message_id = '{BobOld}'");
            AliceDown = await RateAsync(alice, new { model = "local-chat" }, new { rating = "down" });
            AliceUp = await RateAsync(alice, new { assistant_id = Assistant }, new { rating = "up", comment = "Helpful." });
        }

        private static async Task<string> RateAsync(HttpClient client, object session, object feedback)
        {
            var (_, _, reply) = await FeedbackTests.TurnAsync(client, session);
            await (await client.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", feedback)).ShouldBeJsonAsync(HttpStatusCode.OK);
            return reply;
        }
    }

    private readonly Rated _rated;
    private readonly HttpClient _admin;

    public ListFeedbackTests(Rated rated)
    {
        _rated = rated;
        _admin = rated.AdminClient();
    }

    private async Task<(long Total, List<JsonElement> Items)> ListAsync(string query)
    {
        var page = await (await _admin.GetAsync($"/v1/admin/feedback{query}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        return (page.GetProperty("total").GetInt64(), page.GetProperty("items").EnumerateArray().ToList());
    }

    private async Task<List<string>> MessagesAsync(string query) => (await ListAsync(query)).Items.Select(i => i.Str("message_id")).ToList();

    [Fact]
    public async Task Unfiltered_ListsEveryRating_LastGivenFirst_WithWhatTheAssistantsOwnerNeeds()
    {
        var (total, items) = await ListAsync("");

        total.Should().Be(3);
        items.Select(i => i.Str("message_id")).Should().Equal(_rated.AliceUp, _rated.AliceDown, _rated.BobOld);
        var up = items[0];
        up.Str("assistant_id").Should().Be(_rated.Assistant);
        up.Str("model").Should().Be("fake-gpt");
        up.Str("rating").Should().Be("up");
        up.Str("comment").Should().Be("Helpful.");
        up.Str("user_id").Should().Be("alice");
        up.Str("user_name").Should().Be("Alice");
        up.Str("session_id").Should().Be((await (await _rated.ClientFor(Tokens.For("alice"))
            .GetAsync($"/v1/chat/messages/{_rated.AliceUp}/feedback")).JsonAsync()).Str("session_id"));
        items[1].GetProperty("assistant_id").ValueKind.Should().Be(JsonValueKind.Null);
        items[1].Str("model").Should().Be("local-chat");
        items[2].GetProperty("updated_at").GetDateTime().Should().Be(new DateTime(2026, 1, 15, 10, 0, 0, DateTimeKind.Utc));
    }

    [Fact]
    public async Task EachFilter_NarrowsTheList_AndTheTotal()
    {
        var dayBefore = DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-dd");

        (await MessagesAsync($"?assistant_id={_rated.Assistant}")).Should().Equal(_rated.AliceUp, _rated.BobOld);
        (await MessagesAsync("?model=local-chat")).Should().Equal(_rated.AliceDown);
        (await MessagesAsync("?model=fake-gpt")).Should().Equal(_rated.AliceUp, _rated.BobOld);
        (await MessagesAsync("?rating=down")).Should().Equal(_rated.AliceDown, _rated.BobOld);
        (await MessagesAsync("?rating=up")).Should().Equal(_rated.AliceUp);
        (await MessagesAsync("?start_date=2026-01-01&end_date=2026-01-31")).Should().Equal(_rated.BobOld);
        (await MessagesAsync("?end_date=2026-01-15")).Should().Equal([_rated.BobOld], "a date as end covers its whole day");
        (await MessagesAsync("?end_date=2026-01-14")).Should().BeEmpty();
        (await MessagesAsync($"?start_date={dayBefore}")).Should().Equal(_rated.AliceUp, _rated.AliceDown);
        (await MessagesAsync($"?assistant_id={_rated.Assistant}&rating=down")).Should().Equal(_rated.BobOld);
        (await MessagesAsync($"?assistant_id={Guid.CreateVersion7()}")).Should().BeEmpty();

        var (total, page) = await ListAsync("?rating=down&skip=1&limit=1");
        total.Should().Be(2, "the total counts every match, not the page");
        page.Select(i => i.Str("message_id")).Should().Equal(_rated.BobOld);
    }

    [Theory]
    [InlineData("?rating=meh", "rating")]
    [InlineData("?assistant_id=not-a-uuid", "assistant_id")]
    [InlineData("?start_date=2026-02-01&end_date=2026-01-01", "end_date")]
    [InlineData("?start_date=yesterday", "start_date")]
    [InlineData("?limit=1001", "limit")]
    [InlineData("?skip=-1", "skip")]
    public async Task ABadFilter_Is422_NamingIt(string query, string field)
    {
        var problem = await (await _admin.GetAsync($"/v1/admin/feedback{query}")).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue(problem.ToString());
    }

    [Fact]
    public async Task ANonAdmin_Is403_AndAGuest_401()
    {
        await (await _rated.ClientFor(Tokens.For("alice")).GetAsync("/v1/admin/feedback")).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        await (await _rated.ClientFor(null).GetAsync("/v1/admin/feedback")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }
}
