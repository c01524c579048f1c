using System.Text;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>
/// A turn's row in live_replies is its ownership: when another instance took the turn for lost (stored its reply and
/// removed the row), the owner stores nothing more, settles nothing, and tells its reader the reply was not saved.
/// </summary>
public class LiveReplyOwnershipTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task AReplyTakenForLostMeanwhile_IsNotStoredTwice_AndTheReaderIsTold()
    {
        api.Upstream.Script = FakeScript.Numbered(20, TimeSpan.FromMilliseconds(50));
        using var client = api.SocketClient();
        using var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Take your time" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var session = (await reader.NextAsync())!;
        var messageId = Guid.Parse(session.Json.Str("message_id"));
        var sessionId = Guid.Parse(session.Json.Str("session_id"));
        var reserved = await api.ScalarAsync<long>("SELECT tokens FROM usage_daily WHERE subject LIKE 'ip:%'");
        reserved.Should().BePositive("the guest's turn reserved its tokens when it started");

        // What InstanceLease's sweep does for a reply whose instance lost its lease.
        await api.ExecuteAsync($"""
            INSERT INTO chat_messages (id, session_id, role, content, model, status, error)
            VALUES ('{messageId}', '{sessionId}', 'assistant', 'swept', 'fake-gpt', 'interrupted', 'lost');
            DELETE FROM live_replies WHERE message_id = '{messageId}';
            """);
        var events = new List<SseEvent>();
        while (await reader.NextAsync() is { } e) events.Add(e);

        events.Should().Contain(e => e.Event == "error" && e.Json.Str("code") == "storage_failed");
        events[^1].Event.Should().Be("done");
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE id = @messageId", new { messageId })).Should().Be(1);
        (await api.ScalarAsync<string>("SELECT content FROM chat_messages WHERE id = @messageId", new { messageId })).Should().Be("swept");
        (await api.ScalarAsync<long>("SELECT tokens FROM usage_daily WHERE subject LIKE 'ip:%'")).Should().Be(reserved,
            "the reservation is the sweep's to settle (it took the turn), not settled a second time by the owner");
    }

    [Fact]
    public async Task AStoredReply_LeavesNoLiveRow()
    {
        api.Upstream.Script = new FakeScript();
        using var client = api.SocketClient();
        var response = await client.PostAsync("/v1/chat/stream", new StringContent("""{"query": "Hi", "stream": false}""", Encoding.UTF8, "application/json"));
        var messageId = Guid.Parse((await response.JsonAsync()).GetProperty("message").Str("id"));

        (await api.ScalarAsync<long>("SELECT count(*) FROM live_replies WHERE message_id = @messageId", new { messageId })).Should().Be(0);
        (await api.ScalarAsync<string>("SELECT status FROM chat_messages WHERE id = @messageId", new { messageId })).Should().Be("complete");
    }
}
