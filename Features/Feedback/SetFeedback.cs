using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Feedback;

/// <summary>
/// PUT /v1/chat/messages/{id}/feedback {rating, comment?}: the caller's rating of a reply in one of their own sessions,
/// replacing the one they gave before (comment included: a PUT without one clears it). Any other message — another
/// user's, a user turn, none at all — is not found.
/// </summary>
public static class SetFeedback
{
    public sealed record Request(string? Rating, string? Comment);

    public sealed record Command(Guid MessageId, string UserId, Request Body) : IRequest<FeedbackView?>, IValidated
    {
        public string? Comment => string.IsNullOrWhiteSpace(Body.Comment) ? null : Body.Comment.Trim();

        public void Validate(ValidationErrors errors)
        {
            errors.Require(Body.Rating is null || FeedbackView.Ratings.Contains(Body.Rating), "rating", "Must be \"up\" or \"down\".");
            errors.Require(Body.Rating is not null, "rating", "Required.");
            errors.Length(Comment, "comment", 1, FeedbackView.MaxCommentLength);
        }
    }

    // The reply's session, assistant and model are copied in (see migration 0016); the ownership is the session's.
    private const string Sql = $"""
        INSERT INTO message_feedback AS f (message_id, user_id, session_id, assistant_id, model, rating, comment)
        SELECT m.id, @UserId, m.session_id, s.assistant_id, m.model, @Rating, @Comment
        FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE m.id = @MessageId AND m.role = 'assistant' AND s.user_id = @UserId
        ON CONFLICT (message_id, user_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, updated_at = now()
        RETURNING {FeedbackView.Columns}
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, FeedbackView?>
    {
        public async Task<FeedbackView?> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<FeedbackView>(new CommandDefinition(Sql,
                new { command.MessageId, command.UserId, command.Body.Rating, command.Comment }, cancellationToken: ct));
        }
    }

    public static async Task<Results<Ok<FeedbackView>, NotFound>> Endpoint(Guid id, Request body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId(), body), ct) is { } feedback ? TypedResults.Ok(feedback) : TypedResults.NotFound();
}
