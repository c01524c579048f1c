using System.Globalization;
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
/// own <see cref="LiveStream"/>, into a Redis list (each with its number) and announces it on the stream's channel;
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

    private static RedisKey Events(Guid id) => $"chatslices:stream:{{{id}}}:events";
    private static RedisKey Meta(Guid id) => $"chatslices:stream:{{{id}}}:meta";
    private static RedisChannel Appended(Guid id) => RedisChannel.Literal($"chatslices:stream:{id}:appended");

    /// <summary>What readers elsewhere ask of the instance that runs a stream.</summary>
    public enum Request { Join, Leave, Cancel }

    /// <summary>Listens for requests about streams; <paramref name="handle"/> acts on those this instance runs.</summary>
    public void Listen(Action<Request, Guid> handle)
    {
        if (shared.Connection is not { } connection) return;
        try
        {
            // In order (a reader's join before its leave); not waited for: when Redis is away, it subscribes once it is back.
            connection.GetSubscriber().Subscribe(Control, CommandFlags.FireAndForget).OnMessage(message =>
            {
                var text = (string?)message.Message;
                if (text?.Split(' ') is [var verb, var id] && Enum.TryParse<Request>(verb, out var request) && Guid.TryParse(id, out var messageId))
                    handle(request, messageId);
            });
        }
        catch (Exception e) when (SharedRedis.IsOutage(e))
        {
            logger.LogWarning(e, "Redis is away: readers and stop buttons on other instances do not reach this one's streams");
        }
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
        redis.ListRightPush(Events(id), Serialize(number, e), flags: CommandFlags.FireAndForget);
        // Bounded from the first event on: a stream whose end never reaches Redis does not stay there for ever.
        if (number == 1) redis.KeyExpire(Events(id), RunningLifetime, CommandFlags.FireAndForget);
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
                if (Deserialize(item).Event is TextDelta delta) text.Append(delta.Content);
        }
        catch (Exception e) when (SharedRedis.IsOutage(e) || e is JsonException or FormatException or KeyNotFoundException)
        {
            logger.LogWarning(e, "The shared events of reply {MessageId} of a lost instance cannot be read: it is stored without its text", id);
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
            var produced = await redis.ListLengthAsync(Events(id));
            var length = await redis.ListRightPushAsync(Events(id),
                [Serialize(produced + 1, InstanceLost), Serialize(produced + 2, new Done(false, sessionId, id, null, Cached: false))]);
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

        /// <summary>
        /// The events after <paramref name="lastEventId"/>, then the new ones as they come, until <c>done</c>. Events carry
        /// their own numbers: one missing from Redis (a copy lost while Redis was away) ends the stream with
        /// <c>stream_incomplete</c> rather than a gap; so does Redis going away while the stream is read.
        /// </summary>
        public async IAsyncEnumerable<StreamEvent> ReadAsync(long lastEventId, [EnumeratorCancellation] CancellationToken ct = default)
        {
            var connection = streams.Connection!;
            ChannelMessageQueue? announced = null;
            var next = lastEventId;
            try
            {
                while (true)
                {
                    Batch batch;
                    try
                    {
                        // Subscribed before the first read: an event appended in between is announced, not missed.
                        if (announced is null)
                        {
                            announced = await connection.GetSubscriber().SubscribeAsync(Appended(id));
                            streams.Send(Request.Join, id);
                        }
                        batch = await ReadBatchAsync(connection.GetDatabase(), announced, next, ct);
                    }
                    catch (Exception e) when (SharedRedis.IsOutage(e))
                    {
                        batch = Incomplete(next, "The shared stream store went away while this stream was read; resume again later.");
                    }
                    foreach (var e in batch.Events)
                    {
                        next = e.Id!.Value;
                        yield return e;
                    }
                    if (batch.Ended) yield break;
                }
            }
            finally
            {
                if (announced is not null)
                {
                    streams.Send(Request.Leave, id);
                    try
                    {
                        await announced.UnsubscribeAsync();
                    }
                    catch (Exception e) when (SharedRedis.IsOutage(e))
                    {
                        // Redis is away: the subscription went with its connection.
                    }
                }
            }
        }

        private sealed record Batch(List<StreamEvent> Events, bool Ended);

        /// <summary>The events Redis has after <paramref name="next"/>; when it has none, the wait for the next announcement (a second at most).</summary>
        private async Task<Batch> ReadBatchAsync(IDatabase redis, ChannelMessageQueue announced, long next, CancellationToken ct)
        {
            var items = await redis.ListRangeAsync(Events(id), next, -1);
            var events = new List<StreamEvent>();
            foreach (var item in items)
            {
                var (number, e) = Deserialize(item);
                if (number <= next) continue;
                if (number != next + 1) return Incomplete(next, "Events of this stream are missing from the shared stream store.");
                events.Add(new StreamEvent(e.Type, e, number));
                next = number;
                if (e is Done) return new Batch(events, true);
            }
            if (events.Count > 0) return new Batch(events, false);
            // Nothing new: gone from Redis (expired), or over already, or the next announcement.
            if (!await redis.KeyExistsAsync(Events(id))) return new Batch(events, true);
            if (next > 0 && await redis.ListGetByIndexAsync(Events(id), -1) is { IsNull: false } latest && Deserialize(latest) is (var last, Done))
                return new Batch(events, Ended: last <= next); // appended since the range was read: read it, not end before it
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromSeconds(1)); // a look anyway: an announcement can be lost in a reconnect
            try
            {
                await announced.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }
            return new Batch(events, false);
        }

        private Batch Incomplete(long next, string message) =>
            new([new StreamEvent("error", new ChatFailed("stream_incomplete", message), next + 1),
                 new StreamEvent("done", new Done(false, Guid.Empty, id, null, Cached: false), next + 2)], true);
    }

    private static readonly Dictionary<string, JsonTypeInfo> Types = new()
    {
        ["session"] = StreamJson.Default.SessionStarted,
        ["sources"] = StreamJson.Default.SourcesFound,
        ["text"] = StreamJson.Default.TextDelta,
        ["tool_call"] = StreamJson.Default.ToolCallDelta,
        ["usage"] = StreamJson.Default.UsageReported,
        ["error"] = StreamJson.Default.ChatFailed,
        ["done"] = StreamJson.Default.Done,
    };

    /// <summary>An event as Redis keeps it: its number, its type and its JSON, a line break after each of the first two.</summary>
    private static string Serialize(long number, ChatEvent e) =>
        number.ToString(CultureInfo.InvariantCulture) + "\n" + e.Type + "\n" + JsonSerializer.Serialize(e, Types[e.Type]);

    private static (long Number, ChatEvent Event) Deserialize(RedisValue item)
    {
        var text = (string)item!;
        var first = text.IndexOf('\n');
        var second = text.IndexOf('\n', first + 1);
        var e = (ChatEvent)JsonSerializer.Deserialize(text.AsSpan(second + 1), Types[text[(first + 1)..second]])!;
        return (long.Parse(text.AsSpan(0, first), CultureInfo.InvariantCulture), e);
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
