using ChatSlices.Features.StreamChat;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatSlices.Tests.Infrastructure;

/// <summary>
/// The cache purger runs every 10 minutes in the background: the test checks that it is registered and runs the purge it
/// calls on each tick through the service's own container, against rows whose expiry is known.
/// </summary>
public class SemanticCachePurgerTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public void ThePurger_RunsInTheBackground()
    {
        api.Services.GetServices<IHostedService>().OfType<SemanticCachePurger>().Should().ContainSingle();
    }

    [Fact]
    public async Task APurge_DeletesExpiredEntries_AndKeepsLiveOnes()
    {
        var assistant = Guid.CreateVersion7();
        await api.ScalarAsync<object>("""
            INSERT INTO assistants (id, name) VALUES (@assistant, 'Purged ' || @assistant::text);
            INSERT INTO semantic_cache (id, assistant_id, scope_hash, question, question_hash, embedding_model, embedding, answer, expires_at)
            SELECT gen_random_uuid(), @assistant, 'scope', 'question ' || i, 'hash ' || i, 'local-embed', array_fill(0.1::real, ARRAY[384])::vector, 'answer ' || i,
                   now() + CASE WHEN i <= 3 THEN interval '-1 second' ELSE interval '1 hour' END
            FROM generate_series(1, 5) i
            """, new { assistant });

        var purged = await api.Services.GetRequiredService<SemanticCache>().PurgeExpiredAsync(CancellationToken.None);

        purged.Should().BeGreaterThanOrEqualTo(3, "other tests' entries may have expired too");
        (await api.ScalarAsync<string>("SELECT string_agg(question, ',' ORDER BY question) FROM semantic_cache WHERE assistant_id = @assistant", new { assistant }))
            .Should().Be("question 4,question 5");
        (await api.Services.GetRequiredService<SemanticCache>().PurgeExpiredAsync(CancellationToken.None)).Should().Be(0, "nothing expired is left");
    }
}
