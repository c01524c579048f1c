using System.ComponentModel.DataAnnotations;

namespace ChatSlices.Features.StreamChat;

public sealed class ChatSettings
{
    public const string Section = "Chat";

    [Range(0.01, 3_600)]
    public double HeartbeatSeconds { get; set; } = 15;

    /// <summary>A streaming client that takes no bytes for this long is disconnected (its reply is stored as interrupted).</summary>
    [Range(0.01, 3_600)]
    public double StreamWriteTimeoutSeconds { get; set; } = 30;

    [Range(1, 1_000)]
    public int MaxHistoryMessages { get; set; } = 50;

    /// <summary>How long a turn goes on after its last SSE/NDJSON reader left, waiting for one to resume it.</summary>
    [Range(0, 3_600)]
    public double ResumeGraceSeconds { get; set; } = 30;

    /// <summary>How long a finished stream can still be replayed from its events.</summary>
    [Range(0, 86_400)]
    public double ResumeRetentionSeconds { get; set; } = 300;

    /// <summary>
    /// The lease an instance holds on the replies it generates, renewed every third of it: when it lapses, another
    /// instance stores them as interrupted (<c>instance_lost</c>).
    /// </summary>
    [Range(1, 3_600)]
    public double InstanceLeaseSeconds { get; set; } = 15;

    /// <summary>A session's title written by its model after the first reply (not by the offline <c>local</c> models): <see cref="SessionTitles"/>.</summary>
    public bool GenerateTitles { get; set; } = true;
}
