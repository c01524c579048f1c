using ChatSlices.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatSlices.Tests.Features.StreamChat;

public class GracefulShutdownTests : IAsyncLifetime
{
    private readonly ChatApiFactory _api = new();

    public Task InitializeAsync() => _api.InitializeAsync();

    public Task DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Shutdown_LetsAnOpenStreamFinish_AndItsReplyIsStored()
    {
        _api.Upstream.Script = new FakeScript { Chunks = ["one", " two", " three", " four"], Delay = TimeSpan.FromMilliseconds(300) };
        var response = await _api.SocketClient().SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Finish even if we stop" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var sessionId = (await reader.NextAsync())!.Json.GetProperty("session_id").GetString();
        while ((await reader.NextAsync())!.Event != "text") { }

        var stopping = Task.Run(() => _api.Services.GetRequiredService<IHost>().StopAsync());
        var rest = await reader.ReadAllAsync();
        await stopping;

        rest.Select(e => e.Event).Should().EndWith(["usage", "done"]);
        rest[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue();
        (await _api.ScalarAsync<string>("SELECT status || ':' || content FROM chat_messages WHERE session_id = @id::uuid AND role = 'assistant'", new { id = sessionId! }))
            .Should().Be("complete:one two three four");
    }
}
