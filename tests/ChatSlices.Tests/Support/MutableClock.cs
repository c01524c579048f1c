namespace ChatSlices.Tests.Support;

/// <summary>A clock a test can set, for what depends on the date (the daily quota's UTC day).</summary>
public sealed class MutableClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
