using System.Net.Http.Json;
using System.Text.Json;

namespace ChatSlices.Tests.Support;

public static class Json
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();

    public static async Task<JsonElement> ShouldBeJsonAsync(this HttpResponseMessage response, System.Net.HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, text);
        return JsonDocument.Parse(text).RootElement;
    }

    public static string Str(this JsonElement element, string property) => element.GetProperty(property).GetString()!;
}
