using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using ChatSlices.Tests.Support;
using OpenAI.Embeddings;

namespace ChatSlices.Tests.Features.Embeddings;

/// <summary>POST /v1/embeddings through the official OpenAI SDK and by hand, on the catalog's offline embedding model.</summary>
public class CreateEmbeddingsTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private EmbeddingClient Sdk(string model, string token) => new(model, new ApiKeyCredential(token), api.OpenAiOptions());

    [Fact]
    public async Task TheOpenAiSdk_GetsOneVectorPerText_AndTheTokensAreInTheCallersLedger()
    {
        var user = "embedder-" + Guid.NewGuid().ToString("N")[..8];

        OpenAIEmbeddingCollection embeddings = await Sdk("local-embed", Tokens.For(user)).GenerateEmbeddingsAsync(["The cat sat.", "A dog ran far away."]);

        embeddings.Should().HaveCount(2);
        embeddings.Select(e => e.Index).Should().Equal(0, 1);
        embeddings.Should().OnlyContain(e => e.ToFloats().Length == 384);
        embeddings[0].ToFloats().ToArray().Should().NotEqual(embeddings[1].ToFloats().ToArray());
        embeddings.Usage.InputTokenCount.Should().BePositive();
        (await api.ScalarAsync<long>("SELECT coalesce(sum(prompt_tokens), 0)::bigint FROM usage_ledger WHERE user_id = @user AND kind = 'embedding'", new { user }))
            .Should().Be(embeddings.Usage.InputTokenCount);
    }

    [Fact]
    public async Task FloatAndBase64_CarryTheSameVector()
    {
        using var client = api.SocketClient();
        var floats = await PostAsync(client, """{"model": "local-embed", "input": "Same text", "encoding_format": "float"}""");
        var base64 = await PostAsync(client, """{"model": "local-embed", "input": "Same text", "encoding_format": "base64"}""");

        var fromFloats = floats.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var bytes = Convert.FromBase64String(base64.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        var fromBase64 = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, fromBase64, 0, bytes.Length);
        fromBase64.Should().Equal(fromFloats);
        floats.GetProperty("object").GetString().Should().Be("list");
        floats.GetProperty("model").GetString().Should().Be("local-embed");
    }

    [Theory]
    [InlineData("""{"model": "local-embed", "input": [1, 2, 3]}""", HttpStatusCode.UnprocessableEntity, "input")]
    [InlineData("""{"model": "local-embed"}""", HttpStatusCode.UnprocessableEntity, "input")]
    [InlineData("""{"model": "local-embed", "input": ""}""", HttpStatusCode.UnprocessableEntity, "input")]
    [InlineData("""{"model": "local-embed", "input": "x", "dimensions": 100}""", HttpStatusCode.UnprocessableEntity, "dimensions")]
    [InlineData("""{"model": "local-embed", "input": "x", "encoding_format": "hex"}""", HttpStatusCode.UnprocessableEntity, "encoding_format")]
    [InlineData("""{"model": "local-chat", "input": "x"}""", HttpStatusCode.BadRequest, "local-chat")]
    public async Task BadRequests_AreOpenAiShapedErrorsNamingWhatIsWrong(string body, HttpStatusCode status, string named)
    {
        using var client = api.SocketClient();
        var response = await client.PostAsync("/v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(status);
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()
            .Should().Contain(named);
    }

    private static async Task<JsonElement> PostAsync(HttpClient client, string body)
    {
        var response = await client.PostAsync("/v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement;
    }
}
