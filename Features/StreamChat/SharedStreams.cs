using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ChatSlices.Infrastructure.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Turns' event streams shared through Redis (when <c>Redis:Connection</c> is set), so that a reader can resume a
/// stream, and stop it, through any instance. The instance running a turn copies each event, as it appends it to its
/// own <see cref="LiveStream"/>, into a Redis list (event n at index n - 1) and announces it on the stream's channel;
/// a reader elsewhere takes the events after its last one from the list and waits on the channel for more. The copies
/// are sent without waiting for Redis's answer: the turn's own readers never wait on Redis. Readers elsewhere tell
/// the owner that they read (so it keeps the turn going past the grace) and when they stop; cancels travel the same way.
/// </summary>
public sealed class SharedStreams(SharedRedis shared, IOptions<ChatSettings> settings, ILogger<SharedStreams> logger)
{
    private static readonly RedisChannel Control = RedisChannel.Literal("chatslices:streams:control");
    private static readonly TimeSpan RunningLifetime = TimeSpan.FromDays(1);

    private IConnectionMultiplexer? Connection => shared.Connection;
    private IDatabase? Redis => shared.Connection?.GetDatabase();

    public bool Enabled => shared.Connection is not null;

    private static RedisKey Events(Guid id) => $"chatslices:stream:{{{id}}}:events";
    private static RedisKey Meta(Guid id) => $"chatslices:stream:{{{id}}}:meta";
    private static RedisChannel Appended(Guid id) => RedisChannel.Literal($"chatslices:stream:{id}:appended");

    /// <summary>What readers elsewhere ask of the instance that runs a stream.</summary>
    public enum Request { Join, Leave, Cancel }

    /// <summary>Listens for requests about streams; <paramref name="handle"/> acts on those this instance runs.</summary>
    public void Listen(Action<Request, Guid> handle)
    {
        if (shared.Connection is not { } connection) return;
        // Not waited for: when Redis is away now, the multiplexer subscribes once it is back.
        connection.GetSubscriber().Subscribe(Control, (_, message) =>
        {
            var text = (string?)message;
            if (text?.Split(' ') is [var verb, var id] && Enum.TryParse<Request>(verb, out var request) && Guid.TryParse(id, out var messageId))
                handle(request, messageId);
        }, CommandFlags.FireAndForget);
    }

    private void Send(Request request, Guid id) => Try(redis => redis.Publish(Control, $"{request} {id}", CommandFlags.FireAndForget));

    public void Cancel(Guid id) => Send(Request.Cancel, id);

    /// <summary>A turn this instance runs has started: who may read it (null: whoever has its id).</summary>
    public void Opened(Guid id, string? owner) => Try(redis =>
    {
        redis.StringSet(Meta(id), owner ?? "", RunningLifetime, flags: CommandFlags.FireAndForget);
    });

    /// <summary>Event <paramref name="number"/> of a stream this instance runs.</summary>
    public void Append(Guid id, long number, ChatEvent e) => Try(redis =>
    {
        redis.ListRightPush(Events(id), Serialize(e), flags: CommandFlags.FireAndForget);
        redis.Publish(Appended(id), number, CommandFlags.FireAndForget);
    });

    /// <summary>The stream is over: it can be replayed for the retention, then Redis forgets it.</summary>
    public void Ended(Guid id) => Try(redis =>
    {
        var retention = TimeSpan.FromSeconds(Math.Max(1, settings.Value.ResumeRetentionSeconds));
        redis.KeyExpire(Events(id), retention, CommandFlags.FireAndForget);
        redis.KeyExpire(Meta(id), retention, CommandFlags.FireAndForget);
    });

    /// <summary>The text a stream had sent so far (its <c>text</c> events), when its owner is gone; empty when Redis has none.</summary>
    public async Task<string> TextSoFarAsync(Guid id)
    {
        if (Redis is not { } redis) return "";
        var text = new StringBuilder();
        try
        {
            foreach (var item in await redis.ListRangeAsync(Events(id)))
                if (Deserialize(item) is TextDelta delta) text.Append(delta.Content);
        }
        catch (Exception e) when (SharedRedis.IsOutage(e))
        {
            logger.LogWarning("Redis is away: reply {MessageId} of a lost instance is stored without its text", id);
            return "";
        }
        return text.ToString();
    }

    /// <summary>Ends the stream of a reply whose instance died: <c>error instance_lost</c>, then <c>done</c>.</summary>
    public async Task EndLostAsync(Guid id, Guid sessionId)
    {
        if (Redis is not { } redis) return;
        try
        {
            if (!await redis.KeyExistsAsync(Meta(id))) return;
            var length = await redis.ListRightPushAsync(Events(id),
                [Serialize(InstanceLost), Serialize(new Done(false, sessionId, id, null, Cached: false))]);
            await redis.PublishAsync(Appended(id), length);
            Ended(id);
        }
        catch (Exception e) when (SharedRedis.IsOutage(e))
        {
            logger.LogWarning("Redis is away: readers of reply {MessageId} of a lost instance wait until the stream expires", id);
        }
    }

    public static readonly ChatFailed InstanceLost = new("instance_lost", "The instance generating this reply stopped; the reply ends here.");

    /// <summary>A stream run by another instance, if Redis has it and <paramref name="caller"/> may read it.</summary>
    public async Task<RemoteStream?> FindAsync(Guid id, string? caller)
    {
        if (Redis is not { } redis) return null;
        try
        {
            var owner = await redis.StringGetAsync(Meta(id));
            if (owner.IsNull || (owner != "" && owner != caller)) return null;
            return new RemoteStream(this, id, await redis.ListLengthAsync(Events(id)));
        }
        catch (Exception e) when (SharedRedis.IsOutage(e))
        {
            logger.LogWarning("Redis is away: stream {MessageId} can be resumed only on the instance that runs it", id);
            return null;
        }
    }

    /// <summary>A stream another instance runs, read through Redis.</summary>
    public sealed class RemoteStream(SharedStreams streams, Guid id, long produced)
    {
        /// <summary>How many events it had when it was found.</summary>
        public long Produced => produced;

        /// <summary>The events after <paramref name="lastEventId"/>, then the new ones as they come, until <c>done</c>.</summary>
        public async IAsyncEnumerable<StreamEvent> ReadAsync(long lastEventId, [EnumeratorCancellation] CancellationToken ct = default)
        {
            var connection = streams.Connection!;
            var redis = connection.GetDatabase();
            var subscriber = connection.GetSubscriber();
            // Subscribed before the first read: an event appended in between is announced, not missed.
            var announced = await subscriber.SubscribeAsync(Appended(id));
            streams.Send(Request.Join, id);
            try
            {
                var next = lastEventId;
                while (true)
                {
                    var items = await redis.ListRangeAsync(Events(id), next, -1);
                    foreach (var item in items)
                    {
                        var e = Deserialize(item);
                        yield return new StreamEvent(e.Type, e, ++next);
                        if (e is Done) yield break;
                    }
                    // Resumed after its last event: nothing more will come.
                    if (items.Length == 0 && next > 0 && await redis.ListGetByIndexAsync(Events(id), -1) is var latest
                        && !latest.IsNull && Deserialize(latest) is Done) yield break;
                    // The next announcement, or a look anyway after a second (an announcement can be lost in a reconnect).
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    wait.CancelAfter(TimeSpan.FromSeconds(1));
                    try
                    {
                        await announced.ReadAsync(wait.Token);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                    }
                }
            }
            finally
            {
                streams.Send(Request.Leave, id);
                await announced.UnsubscribeAsync();
            }
        }
    }

    private static readonly Dictionary<string, JsonTypeInfo> Types = new()
    {
        ["session"] = StreamJson.Default.SessionStarted,
        ["sources"] = StreamJson.Default.SourcesFound,
        ["text"] = StreamJson.Default.TextDelta,
        ["usage"] = StreamJson.Default.UsageReported,
        ["error"] = StreamJson.Default.ChatFailed,
        ["done"] = StreamJson.Default.Done,
    };

    /// <summary>An event as Redis keeps it: its type, a line break, its JSON.</summary>
    private static string Serialize(ChatEvent e) => e.Type + "\n" + JsonSerializer.Serialize(e, Types[e.Type]);

    private static ChatEvent Deserialize(RedisValue item)
    {
        var text = (string)item!;
        var split = text.IndexOf('\n');
        return (ChatEvent)JsonSerializer.Deserialize(text.AsSpan(split + 1), Types[text[..split]])!;
    }

    /// <summary>Redis calls that may fail while it is away: the stream goes on in this instance, resumable only here.</summary>
    private void Try(Action<IDatabase> call)
    {
        if (Redis is not { } redis) return;
        try
        {
            call(redis);
        }
        catch (Exception e) when (SharedRedis.IsOutage(e))
        {
            logger.LogDebug(e, "Redis is away: a stream event was not shared");
        }
    }
}
