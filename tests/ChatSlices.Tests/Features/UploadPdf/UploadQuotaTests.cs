using System.Net;
using System.Net.Http.Json;
using ChatSlices.Infrastructure.Documents;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Features.UploadPdf;

/// <summary>
/// What an upload costs and when it is refused: the daily upload quota of the caller's tier (free: 2 files; pro: the
/// bytes of one handbook; admin: 1 file), the embedding tokens it spends (here with an <c>openai</c> embedding model)
/// and the bounded extraction queue (one running, one waiting).
/// </summary>
public class UploadQuotaTests(UploadQuotaTests.UploadApi api) : IClassFixture<UploadQuotaTests.UploadApi>
{
    public sealed class UploadApi : ChatApiFactory
    {
        /// <summary>The pro tier's bytes a day: one handbook, and not a second small file besides.</summary>
        public static readonly long ProBytesPerDay = UploadPdfTests.Handbook().Length + 100;

        /// <summary>The service's clock (the quota's UTC day): now, until a test moves it.</summary>
        public MutableClock Clock { get; } = new(DateTimeOffset.UtcNow);

        public UploadApi()
        {
            With("AI:EmbeddingModel", "fake-embed");
            With("Uploads:MaxConcurrentExtractions", "1").With("Uploads:MaxWaitingExtractions", "1");
            With("RateLimits:Tiers:free:UploadsPerDay", "2").With("RateLimits:Tiers:free:UploadBytesPerDay", "100000000");
            With("RateLimits:Tiers:pro:UploadsPerDay", "100").With("RateLimits:Tiers:pro:UploadBytesPerDay", ProBytesPerDay.ToString());
            With("RateLimits:Tiers:admin:UploadsPerDay", "1");
            ReplaceServices = services => services.AddSingleton<TimeProvider>(Clock);
        }
    }

    private async Task<(HttpClient Client, string SessionId)> SessionAsync(string user, string? tier = null)
    {
        var client = api.SocketClient(Tokens.For(user, tier: tier));
        var session = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        return (client, session.Str("id"));
    }

    private static byte[] Pdf(string topic) => TestPdf.Create([[$"All about {topic}.", $"{topic} is the only subject of this page."]]);

    private Task<HttpResponseMessage> UploadAsync(HttpClient client, string sessionId, byte[] pdf) =>
        client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(pdf));

    private Task<long> UploadsCountedAsync(string subject) =>
        api.ScalarAsync<long>("SELECT coalesce(sum(uploads), 0)::bigint FROM usage_daily WHERE subject = @subject", new { subject });

    [Fact]
    public async Task TheThirdUploadOfTheDay_OnATierOfTwo_Is429UntilUtcMidnight_AndTheNextDayStartsAfresh()
    {
        var (client, sessionId) = await SessionAsync("daily-uploader");
        await (await UploadAsync(client, sessionId, Pdf("apples"))).ShouldBeJsonAsync(HttpStatusCode.Created);
        await (await UploadAsync(client, sessionId, Pdf("pears"))).ShouldBeJsonAsync(HttpStatusCode.Created);

        var refused = await UploadAsync(client, sessionId, Pdf("plums"));

        var problem = await refused.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        problem.Str("code").Should().Be("upload_quota_exceeded");
        problem.Str("detail").Should().Contain("2 uploads a day");
        var now = api.Clock.GetUtcNow();
        var untilMidnight = (int)Math.Ceiling((now.UtcDateTime.Date.AddDays(1) - now.UtcDateTime).TotalSeconds);
        refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().Be(untilMidnight);
        problem.GetProperty("retry_after").GetInt32().Should().Be(untilMidnight);
        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(2);
        await (await UploadAsync(client, sessionId, Pdf("apples"))).ShouldBeJsonAsync(HttpStatusCode.OK); // already stored: nothing to count

        api.Clock.Now = now.AddDays(1);
        try
        {
            await (await UploadAsync(client, sessionId, Pdf("plums"))).ShouldBeJsonAsync(HttpStatusCode.Created);
        }
        finally
        {
            api.Clock.Now = now;
        }
    }

    [Fact]
    public async Task UploadsThatStoreNothing_GiveTheirPlaceBack()
    {
        var (client, sessionId) = await SessionAsync("unlucky-uploader");
        for (var i = 0; i < 3; i++)
            await (await UploadAsync(client, sessionId, TestPdf.Corrupt())).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        (await UploadsCountedAsync("unlucky-uploader")).Should().Be(0);

        await (await UploadAsync(client, sessionId, Pdf("first"))).ShouldBeJsonAsync(HttpStatusCode.Created);
        await (await UploadAsync(client, sessionId, Pdf("second"))).ShouldBeJsonAsync(HttpStatusCode.Created);
        (await UploadsCountedAsync("unlucky-uploader")).Should().Be(2);
    }

    [Fact]
    public async Task AnUploadThatWouldPassTheTiersBytesOfTheDay_Is429()
    {
        var (client, sessionId) = await SessionAsync("heavy-uploader", tier: "pro");
        await (await UploadAsync(client, sessionId, UploadPdfTests.Handbook())).ShouldBeJsonAsync(HttpStatusCode.Created);

        var problem = await (await UploadAsync(client, sessionId, Pdf("one more"))).ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);

        problem.Str("code").Should().Be("upload_quota_exceeded");
        problem.Str("detail").Should().Contain($"{UploadApi.ProBytesPerDay} bytes");
        (await api.ScalarAsync<long>("SELECT upload_bytes FROM usage_daily WHERE subject = 'heavy-uploader'"))
            .Should().Be(UploadPdfTests.Handbook().Length);
    }

    [Fact]
    public async Task KnowledgeUploads_CountForTheAdmin_WhenTheAdminTierHasALimit()
    {
        var admin = api.SocketClient(Tokens.Admin("limited-admin"));
        var assistant = (await (await admin.PostAsJsonAsync("/v1/assistants", new { name = "Quota librarian" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var version = await api.ScalarAsync<int>("SELECT knowledge_version FROM assistants WHERE id = @id::uuid", new { id = assistant });
        await (await admin.PostAsync($"/v1/assistants/{assistant}/documents", Uploads.Form(Pdf("knowledge one")))).ShouldBeJsonAsync(HttpStatusCode.Created);

        var problem = await (await admin.PostAsync($"/v1/assistants/{assistant}/documents", Uploads.Form(Pdf("knowledge two"))))
            .ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);

        problem.Str("code").Should().Be("upload_quota_exceeded");
        (await api.ScalarAsync<int>("SELECT knowledge_version FROM assistants WHERE id = @id::uuid", new { id = assistant }))
            .Should().Be(version + 1, "only the stored document moved the version");
    }

    [Fact]
    public async Task UploadEmbeddings_CountAsTheProviderReportsThem()
    {
        var (client, sessionId) = await SessionAsync("remote-embedder");
        var requestsBefore = api.Upstream.EmbeddedTexts.Count;

        await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(UploadPdfTests.Handbook()))).ShouldBeJsonAsync(HttpStatusCode.Created);

        api.Upstream.EmbeddedTexts.Count.Should().BeGreaterThan(requestsBefore, "the chunks went to the provider");
        var usage = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var embedding = usage.GetProperty("by_model").EnumerateArray().Should().ContainSingle().Subject;
        embedding.Str("model").Should().Be("fake-embed");
        embedding.GetProperty("prompt_tokens").GetInt64().Should().Be(1, "the fake provider reports 1 token for each embeddings request, and one batch took every chunk");

        // A turn that searches with another embedding model has the session's documents embedded again: the session owner's use too.
        api.Upstream.Script = new FakeScript();
        (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "When do offices open?", session_id = sessionId, stream = false, embedding_model = "local-embed" }))
            .EnsureSuccessStatusCode();
        var after = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var models = after.GetProperty("by_model").EnumerateArray().ToDictionary(m => m.Str("model"), m => m.GetProperty("prompt_tokens").GetInt64());
        models.Keys.Should().BeEquivalentTo(["fake-embed", "local-embed", "fake-gpt"]);
        models["local-embed"].Should().BePositive();
        after.GetProperty("by_kind").EnumerateArray().Select(k => k.Str("kind")).Should().BeEquivalentTo(["embedding", "chat"]);
    }

    [Fact]
    public async Task AnUploadMeetingAFullExtractionQueue_Is503WithRetryAfter_AtOnce()
    {
        var (client, sessionId) = await SessionAsync("queued-uploader");
        var queue = api.Services.GetRequiredService<ExtractionQueue>();
        var running = (await queue.EnterAsync(CancellationToken.None)).Value!;
        var waiting = queue.EnterAsync(CancellationToken.None); // the one place in the queue
        HttpResponseMessage refused;
        try
        {
            var upload = client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Pdf("queues")));
            (await Task.WhenAny(upload, Task.Delay(TimeSpan.FromSeconds(20)))).Should().BeSameAs(upload,
                "an upload that finds the queue full is answered at once, not held (with its bytes) until a place is free");
            refused = await upload;
        }
        finally
        {
            running.Dispose();
            (await waiting).Value!.Dispose();
        }

        var problem = await refused.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        problem.Str("code").Should().Be("extraction_queue_full");
        refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().BePositive();
        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(0);
        await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Pdf("queues")))).ShouldBeJsonAsync(HttpStatusCode.Created);
        (await UploadsCountedAsync("queued-uploader")).Should().Be(1, "the refused upload gave its place in the quota back");
    }
}
