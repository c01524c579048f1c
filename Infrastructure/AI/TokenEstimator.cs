namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// A tokenizer-free estimate (about four characters a token, plus framing per message) for fitting prompts to a
/// context window and for usage when a provider reports none. Usage from it is always flagged as estimated.
/// </summary>
public static class TokenEstimator
{
    public const int PerMessageOverhead = 4;

    public static int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : (text.Length + 3) / 4;

    public static int CountMessage(string? text) => Count(text) + PerMessageOverhead;
}
