using ChatSlices.Infrastructure.Errors;
using Microsoft.Extensions.Options;

namespace ChatSlices.Infrastructure.Documents;

/// <summary>
/// Admission to PDF extraction, a CPU-bound child process: as many at once as <c>Uploads:MaxConcurrentExtractions</c>
/// (default: one per core), so that a burst of uploads waits here instead of starving the streams; and at most
/// <c>Uploads:MaxWaitingExtractions</c> (default: twice the cores) waiting behind them, each holding its upload's bytes
/// in memory. One more is answered at once with a 503 and <c>Retry-After</c> instead of queueing without bound.
/// </summary>
public sealed class ExtractionQueue
{
    /// <summary>When to try again after a full queue: an extraction usually takes well under a second.</summary>
    public const int RetryAfterSeconds = 5;

    private readonly SemaphoreSlim _running;
    private int _admitted; // running + waiting

    public ExtractionQueue(IOptions<UploadSettings> settings)
    {
        Concurrency = settings.Value.MaxConcurrentExtractions ?? Environment.ProcessorCount;
        MaxWaiting = settings.Value.MaxWaitingExtractions ?? 2 * Environment.ProcessorCount;
        _running = new SemaphoreSlim(Concurrency);
    }

    public int Concurrency { get; }
    public int MaxWaiting { get; }

    private static readonly Failure Full = new(StatusCodes.Status503ServiceUnavailable,
        "Too many PDFs are waiting to be read; send the file again in a few seconds.", "extraction_queue_full")
    {
        RetryAfterSeconds = RetryAfterSeconds,
    };

    /// <summary>A place among the running extractions, once one is free (dispose it when the extraction ends); a 503 when the queue is full.</summary>
    public async Task<Outcome<Slot>> EnterAsync(CancellationToken ct)
    {
        if (Interlocked.Increment(ref _admitted) > Concurrency + MaxWaiting)
        {
            Interlocked.Decrement(ref _admitted);
            return Full;
        }
        try
        {
            await _running.WaitAsync(ct);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }
        return new Slot(this);
    }

    public sealed class Slot(ExtractionQueue queue) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) != 0) return;
            queue._running.Release();
            Interlocked.Decrement(ref queue._admitted);
        }
    }
}
