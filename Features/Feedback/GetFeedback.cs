using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Feedback;

/// <summary>GET /v1/chat/messages/{id}/feedback: the rating the caller gave the reply, so that a reopened chat shows it.</summary>
public static class GetFeedback
{
    public sealed record Query(Guid MessageId, string UserId) : IRequest<FeedbackView?>;

    private const string Sql = $"SELECT {FeedbackView.Columns} FROM message_feedback f WHERE f.message_id = @MessageId AND f.user_id = @UserId";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, FeedbackView?>
    {
        public async Task<FeedbackView?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<FeedbackView>(new CommandDefinition(Sql, query, cancellationToken: ct));
        }
    }

    public static async Task<Results<Ok<FeedbackView>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Query(id, user.RequiredUserId()), ct) is { } feedback ? TypedResults.Ok(feedback) : TypedResults.NotFound();
}
