using ChatSlices.Infrastructure.Errors;
using Microsoft.Extensions.Options;

namespace ChatSlices.Infrastructure.Documents;

/// <summary>
/// Admission to PDF extraction, a CPU-bound child process: as many at once as <c>Uploads:MaxConcurrentExtractions</c>
/// (default: one per core), so that a burst of uploads waits here instead of starving the streams.
/// </summary>
public sealed class ExtractionQueue
{
    private readonly SemaphoreSlim _running;

    public ExtractionQueue(IOptions<UploadSettings> settings)
    {
        Concurrency = settings.Value.MaxConcurrentExtractions ?? Environment.ProcessorCount;
        _running = new SemaphoreSlim(Concurrency);
    }

    public int Concurrency { get; }

    /// <summary>A place among the running extractions, once one is free; dispose it when the extraction ends.</summary>
    public async Task<Outcome<Slot>> EnterAsync(CancellationToken ct)
    {
        await _running.WaitAsync(ct);
        return new Slot(this);
    }

    public sealed class Slot(ExtractionQueue queue) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) queue._running.Release();
        }
    }
}
