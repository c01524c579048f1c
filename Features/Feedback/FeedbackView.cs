namespace ChatSlices.Features.Feedback;

/// <summary>The caller's rating of one reply, as API.md shows it.</summary>
public sealed record FeedbackView(Guid MessageId, Guid SessionId, string Rating, string? Comment, DateTime CreatedAt, DateTime UpdatedAt)
{
    public const string Columns = "f.message_id, f.session_id, f.rating, f.comment, f.created_at, f.updated_at";

    public static readonly string[] Ratings = ["up", "down"];

    public const int MaxCommentLength = 2000;
}
