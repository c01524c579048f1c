using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace DataBench;

/// <summary>Calls to the running service: a client with a bearer token, a new chat session, JSON bodies; progress lines.</summary>
internal static class ServiceHttp
{
    public static HttpClient Client(string baseUrl, string token) => new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        BaseAddress = new Uri(baseUrl),
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    public static async Task<Guid> NewSessionAsync(HttpClient http, string title)
    {
        using var res = await http.PostAsync("/v1/chat/sessions", JsonContent(new { title }));
        var body = await res.Content.ReadAsStringAsync();
        if ((int)res.StatusCode != 201) throw new InvalidOperationException($"POST /v1/chat/sessions: {(int)res.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
    }

    public static StringContent JsonContent(object value) =>
        new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    public static void Log(string message) => Console.Error.WriteLine($"[DataBench] {message}");
}
