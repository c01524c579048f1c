using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Models;

public class ListModelsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Guests_SeeTheCatalog_WithLimitsPricesAndKinds()
    {
        var body = JsonDocument.Parse(await api.CreateClient().GetStringAsync("/v1/models")).RootElement;

        body.GetProperty("object").GetString().Should().Be("list");
        var models = body.GetProperty("data").EnumerateArray().ToList();
        var chat = models.Single(m => m.GetProperty("id").GetString() == "local-chat");
        chat.GetProperty("object").GetString().Should().Be("model");
        chat.GetProperty("kind").GetString().Should().Be("chat");
        chat.GetProperty("context_window").GetInt32().Should().BePositive();
        chat.GetProperty("input_price_per_million").GetDecimal().Should().Be(0);
        models.Should().Contain(m => m.GetProperty("kind").GetString() == "embedding" && m.GetProperty("dimensions").GetInt32() == 384);
    }
}
