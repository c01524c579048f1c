using System.Security.Claims;
using ChatSlices.Features.Sessions;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// The turns that branch a conversation, both answered like <c>POST /v1/chat/stream</c> (events, NDJSON, tokens or one
/// JSON body) and made the active branch:
/// <c>POST /v1/chat/sessions/{id}/messages/{message_id}/regenerate</c>, a new reply to a stored user turn, beside the old;
/// <c>PUT /v1/chat/sessions/{id}/messages/{message_id}</c>, a new version of a user turn beside the old, with its reply
/// (<c>"reply": false</c>: stored only, 201 with the message).
/// </summary>
public static class BranchTurns
{
    public const string UserTurnsOnly = "Only a user turn can be edited; regenerate a reply instead.";

    public sealed record RegenerateRequest(string? Model, double? Temperature, int? MaxTokens, string? ContextMode, bool? Stream, string? StreamFormat);

    public sealed record EditRequest(string? Content, bool? Reply, string? Model, double? Temperature, int? MaxTokens, string? ContextMode,
        bool? Stream, string? StreamFormat);

    public static Task<IResult> Regenerate(Guid id, Guid messageId, [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] RegenerateRequest? body,
        ClaimsPrincipal user, IMediator mediator, LiveStreams live, IOptions<ChatSettings> settings, HttpContext http, CancellationToken ct)
    {
        body ??= new RegenerateRequest(null, null, null, null, null, null);
        var turn = new ChatRequest(SessionId: id, Model: body.Model, Temperature: body.Temperature, MaxTokens: body.MaxTokens,
            ContextMode: body.ContextMode, Stream: body.Stream, StreamFormat: body.StreamFormat) { Anchor = new TurnAnchor(messageId, Regenerate: true) };
        return StreamChat.RespondAsync(turn, ownSessionOnly: true, user, mediator, live, settings.Value, http, ct);
    }

    public static async Task<IResult> Edit(Guid id, Guid messageId, EditRequest body, ClaimsPrincipal user, IMediator mediator, LiveStreams live,
        IOptions<ChatSettings> settings, HttpContext http, CancellationToken ct)
    {
        if (body.Reply == false)
        {
            var stored = await mediator.Send(new StoreEdit(id, messageId, user.RequiredUserId(), body.Content), ct);
            return stored.Failure is { } failure ? failure.ToResult() : TypedResults.Created($"/v1/chat/sessions/{id}/messages", stored.Value);
        }
        var turn = new ChatRequest(Query: body.Content, SessionId: id, Model: body.Model, Temperature: body.Temperature, MaxTokens: body.MaxTokens,
            ContextMode: body.ContextMode, Stream: body.Stream, StreamFormat: body.StreamFormat) { Anchor = new TurnAnchor(messageId, Regenerate: false) };
        return await StreamChat.RespondAsync(turn, ownSessionOnly: true, user, mediator, live, settings.Value, http, ct);
    }

    /// <summary>An edited user turn stored without a reply: a sibling of the one edited, and the active leaf.</summary>
    public sealed record StoreEdit(Guid SessionId, Guid MessageId, string UserId, string? Content) : IRequest<Outcome<MessageView>>, IValidated
    {
        public void Validate(ValidationErrors errors)
        {
            errors.Require(Content is not null, "content", "Required.");
            errors.Length(Content, "content", 1, ChatRequest.MaxQueryChars);
        }
    }

    private const string EditedRoleSql = """
        SELECT a.role FROM chat_messages a JOIN chat_sessions s ON s.id = a.session_id
        WHERE a.id = @MessageId AND a.session_id = @SessionId AND s.user_id = @UserId
        """;

    private const string StoreEditSql = $"""
        WITH turn AS (
            INSERT INTO chat_messages (id, session_id, parent_id, user_id, role, content, model)
            SELECT @Id, s.id, a.parent_id, s.user_id, 'user', @Content, s.model
            FROM chat_messages a JOIN chat_sessions s ON s.id = a.session_id
            WHERE a.id = @MessageId AND a.session_id = @SessionId AND s.user_id = @UserId AND a.role = 'user'
            RETURNING *
        ), activated AS (
            UPDATE chat_sessions SET active_leaf_id = @Id, updated_at = now() WHERE id = @SessionId AND EXISTS (SELECT 1 FROM turn)
        )
        SELECT {SessionViews.MessageColumns} FROM turn m
        """;

    public sealed class StoreEditHandler(NpgsqlDataSource db) : IRequestHandler<StoreEdit, Outcome<MessageView>>
    {
        public async Task<Outcome<MessageView>> Handle(StoreEdit command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var role = await conn.QuerySingleOrDefaultAsync<string>(new CommandDefinition(EditedRoleSql, command, cancellationToken: ct));
            if (role is null) return Failure.NotFound("Message");
            if (role != "user") throw RequestValidationException.For("message_id", UserTurnsOnly);
            var stored = await conn.QuerySingleOrDefaultAsync<MessageView>(new CommandDefinition(StoreEditSql,
                new { Id = Guid.CreateVersion7(), command.MessageId, command.SessionId, command.UserId, command.Content }, cancellationToken: ct));
            return stored is null ? Failure.NotFound("Message") : stored; // deleted in between
        }
    }
}
