using System.Net;
using System.Text.Json;
using ChatSlices.Tests.Security;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatSlices.Tests.Infrastructure;

public class RequestLoggingTests : IAsyncLifetime
{
    private readonly ApiFactory _api = new();
    private readonly LogSink _log = new(LogLevel.Information);

    public async Task InitializeAsync()
    {
        await _api.InitializeAsync();
        _api.With("Logging:LogLevel:ChatSlices.Requests", "Information");
        _api.ReplaceServices = services => services.AddSingleton<ILoggerProvider>(_log);
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task RequestLogLine_CarriesTheTraceIdThatTheProblemQuotes()
    {
        var response = await _api.UserClient("logged").GetAsync($"/v1/files/{Guid.NewGuid()}");
        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        var traceId = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("trace_id").GetString();

        // The line is written once the pipeline unwinds, which may be just after the client has the response.
        List<string> lines = [];
        for (var i = 0; i < 40 && !lines.Any(m => m.StartsWith("HTTP GET /v1/files/")); i++, await Task.Delay(50))
            lines = _log.Since(0, LogLevel.Information).Where(e => e.Category == "ChatSlices.Requests").Select(e => e.Message).ToList();
        lines.Should().Contain(m => m.StartsWith("HTTP GET /v1/files/") && m.Contains(" responded 404 ") && m.EndsWith($"(trace {traceId})"));
    }
}
