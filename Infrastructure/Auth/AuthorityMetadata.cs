using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace ChatSlices.Infrastructure.Auth;

/// <summary>
/// The OIDC authority's discovery document and signing keys, for JwtBearer. Fetched on first use and every 12 hours; and,
/// when a token names a key id (<c>kid</c>) the cached keys lack, fetched again before that token is checked
/// (<see cref="RefreshForKeyAsync"/>), so that the first token signed with a key the authority has just rotated in is
/// accepted. (The library's own manager refreshes in the background after refusing that token.) Such fetches happen at most
/// once per <see cref="UnknownKeyRefreshInterval"/>, so tokens with made-up kids cannot make the service hammer the authority.
/// A failed refresh keeps the keys in hand.
/// </summary>
public sealed class AuthorityMetadata(string metadataAddress, IDocumentRetriever documents, TimeProvider clock, ILogger logger)
    : IConfigurationManager<OpenIdConnectConfiguration>
{
    public static readonly TimeSpan AutomaticRefreshInterval = TimeSpan.FromHours(12);
    public static readonly TimeSpan UnknownKeyRefreshInterval = TimeSpan.FromMinutes(1);

    /// <summary>After a failed first fetch, requests fail at once for this long instead of each asking the authority again.</summary>
    private static readonly TimeSpan FailedFetchBackoff = TimeSpan.FromSeconds(5);

    private sealed record Snapshot(OpenIdConnectConfiguration Configuration, DateTimeOffset FetchedAt);

    private readonly SemaphoreSlim _fetching = new(1, 1);
    private readonly Lock _gate = new();
    private volatile Snapshot? _snapshot;
    private DateTimeOffset _nextUnknownKeyFetch = DateTimeOffset.MinValue;
    private (DateTimeOffset Until, Exception Error)? _failed;

    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel)
    {
        var snapshot = _snapshot;
        if (snapshot is not null && clock.GetUtcNow() - snapshot.FetchedAt < AutomaticRefreshInterval) return snapshot.Configuration;
        return await FetchAsync(snapshot, cancel);
    }

    /// <summary>Fetches the metadata anew when its keys lack <paramref name="kid"/>, unless that was done less than a minute ago.</summary>
    public async Task RefreshForKeyAsync(string kid, CancellationToken cancel)
    {
        var configuration = await GetConfigurationAsync(cancel);
        if (configuration.SigningKeys.Any(k => k.KeyId == kid)) return;
        lock (_gate)
        {
            var now = clock.GetUtcNow();
            if (now < _nextUnknownKeyFetch) return;
            _nextUnknownKeyFetch = now + UnknownKeyRefreshInterval;
        }
        await FetchAsync(_snapshot, cancel);
    }

    /// <summary>JwtBearer asks for this after a token's key was not found: <see cref="RefreshForKeyAsync"/> has already fetched what there was.</summary>
    public void RequestRefresh()
    {
    }

    private async Task<OpenIdConnectConfiguration> FetchAsync(Snapshot? seen, CancellationToken cancel)
    {
        await _fetching.WaitAsync(cancel);
        try
        {
            if (_snapshot is { } newer && !ReferenceEquals(newer, seen)) return newer.Configuration; // fetched while this request waited
            if (seen is null && _failed is { } failed && clock.GetUtcNow() < failed.Until) throw Unavailable(failed.Error);
            try
            {
                // Not the request's token: a fetch serves every request waiting for it (the retriever has its own timeout).
                var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(metadataAddress, documents, CancellationToken.None);
                _snapshot = new Snapshot(configuration, clock.GetUtcNow());
                _failed = null;
                return configuration;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
            {
                if (seen is null)
                {
                    _failed = (clock.GetUtcNow() + FailedFetchBackoff, e);
                    throw Unavailable(e);
                }
                // Stale keys are better than none: keep them, and try again when a minute has passed.
                logger.LogWarning(e, "Refreshing the OIDC metadata from {Address} failed; keeping the keys fetched at {FetchedAt:O}", metadataAddress, seen.FetchedAt);
                _snapshot = seen with { FetchedAt = clock.GetUtcNow() - AutomaticRefreshInterval + UnknownKeyRefreshInterval };
                return seen.Configuration;
            }
        }
        finally
        {
            _fetching.Release();
        }
    }

    private InvalidOperationException Unavailable(Exception cause) =>
        new($"The OIDC metadata could not be fetched from {metadataAddress}.", cause);
}
