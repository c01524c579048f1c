namespace ChatSlices.Infrastructure.Chat;

public sealed class ChatSettings
{
    public const string Section = "Chat";
    public double HeartbeatSeconds { get; set; } = 15;
    public int MaxHistoryMessages { get; set; } = 50;
}
