using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Assistants;

public class AvatarTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private static int _names;

    private async Task<string> AssistantAsync(bool requiresAuth = false) =>
        (await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new { name = $"Face {Interlocked.Increment(ref _names)}", requires_auth = requiresAuth }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");

    private Task<HttpResponseMessage> UploadAsync(string id, byte[] bytes, string name = "avatar.png", string type = "image/png") =>
        api.AdminClient().PostAsync($"/v1/assistants/{id}/avatar", Uploads.Form(bytes, name, type));

    public static TheoryData<string, string> Formats() => new()
    {
        { "png", "image/png" }, { "jpeg", "image/jpeg" }, { "gif", "image/gif" }, { "webp", "image/webp" },
    };

    private static byte[] Image(string format) => format switch
    {
        "png" => TestImages.Png(40, 30),
        "jpeg" => TestImages.Jpeg(40, 30),
        "gif" => TestImages.Gif(40, 30),
        _ => TestImages.WebpLossless(40, 30),
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task EachAllowedFormat_IsStored_AndServedWithItsRealTypeAndSafeHeaders(string format, string contentType)
    {
        var id = await AssistantAsync();
        var bytes = Image(format);

        // The declared type and name lie on purpose: only the content counts.
        var assistant = await (await UploadAsync(id, bytes, "whatever.bin", "application/octet-stream")).ShouldBeJsonAsync(HttpStatusCode.OK);
        assistant.Str("avatar_url").Should().Be($"/v1/assistants/{id}/avatar");

        var served = await api.ClientFor(null).GetAsync($"/v1/assistants/{id}/avatar");
        served.StatusCode.Should().Be(HttpStatusCode.OK);
        served.Content.Headers.ContentType!.MediaType.Should().Be(contentType);
        (await served.Content.ReadAsByteArrayAsync()).Should().Equal(bytes);
        served.Headers.GetValues("X-Content-Type-Options").Should().Equal("nosniff");
        served.Headers.GetValues("Content-Security-Policy").Should().Equal("default-src 'none'");
        served.Headers.CacheControl!.MaxAge.Should().NotBeNull();
        served.Headers.ETag!.IsWeak.Should().BeFalse();
    }

    [Fact]
    public async Task ETag_GivesA304_AndAReplacementChangesIt()
    {
        var id = await AssistantAsync();
        await UploadAsync(id, TestImages.Png(10, 10));
        var first = await api.ClientFor(null).GetAsync($"/v1/assistants/{id}/avatar");
        var etag = first.Headers.ETag!;

        var again = new HttpRequestMessage(HttpMethod.Get, $"/v1/assistants/{id}/avatar");
        again.Headers.IfNoneMatch.Add(etag);
        (await api.ClientFor(null).SendAsync(again)).StatusCode.Should().Be(HttpStatusCode.NotModified);

        await UploadAsync(id, TestImages.Gif(12, 12));
        var replaced = await api.ClientFor(null).GetAsync($"/v1/assistants/{id}/avatar");
        replaced.Headers.ETag!.Tag.Should().NotBe(etag.Tag);
        replaced.Content.Headers.ContentType!.MediaType.Should().Be("image/gif");
    }

    [Theory]
    [InlineData("\"other\", {0}", HttpStatusCode.NotModified)]
    [InlineData("W/{0}", HttpStatusCode.NotModified)]
    [InlineData("*", HttpStatusCode.NotModified)]
    [InlineData("\"other\"", HttpStatusCode.OK)]
    public async Task IfNoneMatch_IsReadAsAListOfTags_ComparedWeakly(string header, HttpStatusCode expected)
    {
        var id = await AssistantAsync();
        await UploadAsync(id, TestImages.Png(10, 10));
        var etag = (await api.ClientFor(null).GetAsync($"/v1/assistants/{id}/avatar")).Headers.ETag!.Tag;

        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/assistants/{id}/avatar");
        request.Headers.TryAddWithoutValidation("If-None-Match", string.Format(header, etag));

        (await api.ClientFor(null).SendAsync(request)).StatusCode.Should().Be(expected);
    }

    public static TheoryData<string> Hostile() => ["text", "svg", "html", "truncated"];

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task AnythingButAnImage_Is415(string kind)
    {
        var id = await AssistantAsync();
        var bytes = kind switch
        {
            "text" => TestImages.TextNamedPng(),
            "svg" => TestImages.Svg(),
            "html" => TestImages.HtmlPolyglot(),
            _ => TestImages.TruncatedPng(),
        };

        await (await UploadAsync(id, bytes)).ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType);
        (await api.ClientFor(null).GetAsync($"/v1/assistants/{id}/avatar")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task OversizedFilesAre413_AndOversizedImagesAre422()
    {
        var id = await AssistantAsync();
        var big = TestImages.Png(64, 64).Concat(new byte[2 * 1024 * 1024]).ToArray();

        await (await UploadAsync(id, big)).ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        await (await UploadAsync(id, TestImages.Gif(5000, 4000), "huge.gif")).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task Delete_RemovesTheAvatar_AndAPrivateAssistantsAvatarIsNotForGuests()
    {
        var id = await AssistantAsync(requiresAuth: true);
        await UploadAsync(id, TestImages.Png(8, 8));

        (await api.ClientFor(null).GetAsync($"/v1/assistants/{id}/avatar")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await api.UserClient("viewer").GetAsync($"/v1/assistants/{id}/avatar")).StatusCode.Should().Be(HttpStatusCode.OK);

        var cleared = await (await api.AdminClient().DeleteAsync($"/v1/assistants/{id}/avatar")).ShouldBeJsonAsync(HttpStatusCode.OK);
        cleared.GetProperty("avatar_url").ValueKind.Should().Be(System.Text.Json.JsonValueKind.Null);
        (await api.UserClient("viewer").GetAsync($"/v1/assistants/{id}/avatar")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
