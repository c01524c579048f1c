using System.Net;
using System.Text.Json;

namespace ChatSlices.Tests.Support;

public static class Problems
{
    /// <summary>Asserts the RFC 9457 shape every error of the contract has, and returns the body.</summary>
    public static async Task<JsonElement> ShouldBeProblemAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, text);
        response.Content.Headers.ContentType.Should().NotBeNull($"a problem says it is application/problem+json; the answer had no content type: {text}");
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var body = JsonDocument.Parse(text).RootElement;
        body.GetProperty("status").GetInt32().Should().Be((int)status);
        body.GetProperty("title").GetString().Should().NotBeNullOrWhiteSpace();
        body.GetProperty("detail").GetString().Should().NotBeNullOrWhiteSpace();
        body.GetProperty("trace_id").GetString().Should().NotBeNullOrWhiteSpace();
        text.Should().NotContainAny("   at ", "Exception", "SELECT ", "Npgsql");
        return body;
    }
}
