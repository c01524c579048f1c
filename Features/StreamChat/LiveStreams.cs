using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// The event streams of this instance's turns, kept so that a reader who lost the connection can resume
/// (<c>GET /v1/chat/streams/{message_id}</c> with <c>Last-Event-ID</c>). A turn runs detached from the request that
/// started it: when its last reader leaves it goes on for <c>Chat:ResumeGraceSeconds</c>, then is cancelled (the reply
/// is stored as interrupted, as when a client leaves); a finished stream can be replayed for
/// <c>Chat:ResumeRetentionSeconds</c>. With Redis, each event is shared as it is appended (<see cref="SharedStreams"/>),
/// and readers and stop buttons on other instances reach the turn through it.
/// </summary>
public sealed class LiveStreams
{
    private readonly ConcurrentDictionary<Guid, LiveStream> _streams = new();
    private readonly IOptions<ChatSettings> settings;
    private readonly SharedStreams shared;
    private readonly ILogger<LiveStreams> logger;

    public LiveStreams(IOptions<ChatSettings> settings, SharedStreams shared, ILogger<LiveStreams> logger)
    {
        this.settings = settings;
        this.shared = shared;
        this.logger = logger;
        shared.Listen((request, id) =>
        {
            if (!_streams.TryGetValue(id, out var stream)) return;
            switch (request)
            {
                case SharedStreams.Request.Join: stream.Join(remote: true); break;
                case SharedStreams.Request.Leave: stream.Leave(remote: true); break;
                case SharedStreams.Request.Cancel: stream.Cancel(); break;
            }
        });
    }

    /// <summary>
    /// Runs <paramref name="run"/>'s events in the background; <paramref name="generation"/> cancels the turn. The
    /// starting request counts as a reader until it calls <see cref="LiveStream.Leave"/> (whether or not it read).
    /// </summary>
    public LiveStream Start(ChatRun run, string? owner, CancellationTokenSource generation)
    {
        var stream = new LiveStream(run.MessageId, owner, generation, TimeSpan.FromSeconds(settings.Value.ResumeGraceSeconds));
        stream.Join();
        _streams[run.MessageId] = stream;
        shared.Opened(run.MessageId, owner);
        _ = PumpAsync(stream, run);
        return stream;
    }

    /// <summary>The stream of a reply, if this instance runs it and the caller owns it (a guest's stream: whoever has its id).</summary>
    public LiveStream? Find(Guid messageId, string? caller) =>
        _streams.TryGetValue(messageId, out var stream) && (stream.Owner is null || stream.Owner == caller) ? stream : null;

    private async Task PumpAsync(LiveStream stream, ChatRun run)
    {
        try
        {
            await foreach (var e in run.Events) shared.Append(stream.MessageId, await stream.AppendAsync(e), e);
        }
        catch (Exception e) when (e is OperationCanceledException || stream.Cancelled)
        {
            // Cancelled: nobody resumed in time, or the stop button. The turn stored its reply as interrupted.
        }
        catch (Exception e)
        {
            logger.LogError(e, "The chat turn of reply {MessageId} failed", run.MessageId);
        }
        finally
        {
            var done = new Done(false, run.SessionId, run.MessageId, null, Cached: false);
            if (stream.End(done) is { } number) shared.Append(stream.MessageId, number, done);
            shared.Ended(stream.MessageId);
            await run.DisposeAsync();
        }
        // Only the events stay for the replay, not the turn that made them (a timer, not an await that would keep it).
        stream.ForgetAfter(TimeSpan.FromSeconds(settings.Value.ResumeRetentionSeconds), () => _streams.TryRemove(new(stream.MessageId, stream)));
    }
}

/// <summary>One turn's events as they were produced, numbered from 1, and whoever is reading them.</summary>
public sealed class LiveStream(Guid messageId, string? owner, CancellationTokenSource generation, TimeSpan grace) : IDisposable
{
    private readonly List<ChatEvent> _events = [];
    private readonly Lock _gate = new();
    private const int Window = 64;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _furthestRead;
    private bool _ended;
    private int _readers;
    private int _remoteReaders; // on other instances: they keep the turn going, but their pace is not known here
    private ITimer? _graceTimer;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Guid MessageId => messageId;

    /// <summary>Done when the turn's events are over (finished, failed or cancelled).</summary>
    public Task Finished => _finished.Task;
    public string? Owner => owner;
    public bool Cancelled => generation.IsCancellationRequested;

    /// <summary>How many events the turn has produced so far (the id of the latest).</summary>
    public int Produced
    {
        get
        {
            lock (_gate) return _events.Count;
        }
    }

    /// <summary>The stop button: the turn is cancelled at once.</summary>
    public void Cancel() => generation.Cancel();

    /// <summary>
    /// Adds the next event. While someone reads, the turn stays at most <see cref="Window"/> events ahead of the furthest
    /// reader (a slow reader holds the model back, so nothing piles up); with nobody reading it runs on.
    /// </summary>
    /// <returns>The event's number.</returns>
    internal async ValueTask<int> AppendAsync(ChatEvent e)
    {
        while (true)
        {
            Task progress;
            lock (_gate)
            {
                if (_readers == 0 || _events.Count - _furthestRead < Window) break;
                progress = _progress.Task;
            }
            await progress.WaitAsync(generation.Token);
        }
        TaskCompletionSource changed;
        int number;
        lock (_gate)
        {
            _events.Add(e);
            number = _events.Count;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
        return number;
    }

    /// <summary>A reader has taken the events before <paramref name="next"/>.</summary>
    private void Read(int next)
    {
        TaskCompletionSource? progress = null;
        lock (_gate)
        {
            if (next <= _furthestRead) return;
            _furthestRead = next;
            progress = _progress;
            _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        progress.TrySetResult();
    }

    /// <summary>The turn's events are over; a stream that ended without <c>done</c> (cancelled) gets <paramref name="fallback"/>.</summary>
    /// <returns>The fallback's number when it was added.</returns>
    internal int? End(Done fallback)
    {
        int? added = null;
        lock (_gate)
        {
            if (_events.Count == 0 || _events[^1] is not Done)
            {
                _events.Add(fallback);
                added = _events.Count;
            }
            _ended = true;
            _graceTimer?.Dispose();
        }
        _changed.TrySetResult();
        _finished.TrySetResult();
        return added;
    }

    /// <summary>The events after <paramref name="lastEventId"/> (0: all), then the live ones until <c>done</c>.</summary>
    public async IAsyncEnumerable<StreamEvent> ReadAsync(long lastEventId, [EnumeratorCancellation] CancellationToken ct = default)
    {
        Join();
        try
        {
            var next = (int)Math.Clamp(lastEventId, 0, int.MaxValue);
            while (true)
            {
                ChatEvent? e = null;
                Task changed;
                bool ended;
                lock (_gate)
                {
                    if (next < _events.Count) e = _events[next];
                    changed = _changed.Task;
                    ended = _ended;
                }
                if (e is not null)
                {
                    yield return new StreamEvent(e.Type, e, ++next);
                    Read(next);
                    continue;
                }
                if (ended) yield break;
                await changed.WaitAsync(ct);
            }
        }
        finally
        {
            Leave();
        }
    }

    /// <param name="remote">A reader on another instance (through <see cref="SharedStreams"/>).</param>
    public void Join(bool remote = false)
    {
        lock (_gate)
        {
            if (remote) _remoteReaders++;
            else _readers++;
            _graceTimer?.Dispose();
            _graceTimer = null;
        }
    }

    /// <summary>A reader gone. The last one from a turn still running: it may be resumed within the grace, else it is cancelled.</summary>
    public void Leave(bool remote = false)
    {
        TaskCompletionSource progress;
        var cancel = false;
        lock (_gate)
        {
            progress = _progress; // a producer held back for this reader runs on
            _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (remote) _remoteReaders = Math.Max(0, _remoteReaders - 1);
            else _readers--;
            if (_readers == 0 && _remoteReaders == 0 && !_ended && _graceTimer is null)
            {
                if (grace > TimeSpan.Zero) _graceTimer = TimeProvider.System.CreateTimer(_ => Cancel(), null, grace, Timeout.InfiniteTimeSpan);
                else cancel = true;
            }
        }
        progress.TrySetResult();
        if (cancel) Cancel();
    }

    private ITimer? _retentionTimer;

    /// <summary>After <paramref name="retention"/>, <paramref name="remove"/> it from the registry and let it go.</summary>
    internal void ForgetAfter(TimeSpan retention, Action remove) =>
        _retentionTimer = TimeProvider.System.CreateTimer(_ =>
        {
            remove();
            Dispose();
        }, null, retention, Timeout.InfiniteTimeSpan);

    public void Dispose()
    {
        _graceTimer?.Dispose();
        _retentionTimer?.Dispose();
        generation.Dispose();
    }
}
