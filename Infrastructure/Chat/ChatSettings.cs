namespace ChatSlices.Infrastructure.Chat;

public sealed class ChatSettings
{
    public const string Section = "Chat";
    public double HeartbeatSeconds { get; set; } = 15;

    /// <summary>A streaming client that takes no bytes for this long is disconnected (its reply is stored as interrupted).</summary>
    public double StreamWriteTimeoutSeconds { get; set; } = 30;
    public int MaxHistoryMessages { get; set; } = 50;
}
