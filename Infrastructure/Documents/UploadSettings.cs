namespace ChatSlices.Infrastructure.Documents;

public sealed class UploadSettings
{
    public const string Section = "Uploads";

    public long MaxPdfBytes { get; set; } = 10 * 1024 * 1024;
    public int MaxPages { get; set; } = 500;
    public double ExtractionTimeoutSeconds { get; set; } = 30;
    public long MaxAvatarBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>PDF extractions (child processes) running at once; null: one per core.</summary>
    public int? MaxConcurrentExtractions { get; set; }

    /// <summary>Uploads that may wait for an extraction, each holding its bytes; one more is a 503. null: twice the cores.</summary>
    public int? MaxWaitingExtractions { get; set; }

    /// <summary>
    /// Chunk size in the embedding model's tokens (fewer where its window is smaller), and the share of a chunk repeated
    /// at the start of the next.
    /// </summary>
    public int ChunkTokens { get; set; } = 400;
    public double ChunkOverlap { get; set; } = 0.15;
}
