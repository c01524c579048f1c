using Carter;
using ChatSlices.Features.StreamChat;
using ChatSlices.Infrastructure.Auth;

namespace ChatSlices.Features.Sessions;

/// <summary>The session routes of API.md "Sessions" (the non-streaming turn lives in SendMessage).</summary>
public sealed class SessionsEndpoints : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var sessions = app.MapGroup("/v1/chat/sessions").WithTags("Sessions").RequireAuthorization(AuthSetup.UserPolicy);
        sessions.MapPost("", CreateSession.Endpoint).WithName("CreateSession").WithSummary("Create an empty session")
            .ProducesProblem(StatusCodes.Status404NotFound);
        sessions.MapGet("/{id:guid}/messages", ListMessages.Endpoint).WithName("ListSessionMessages").WithSummary("A page of a session's messages, oldest first");
        sessions.MapPut("/{id:guid}", RenameSession.Endpoint).WithName("RenameSession").WithSummary("Rename a session");
        sessions.MapPost("/{id:guid}/archive", ArchiveSession.Archive).WithName("ArchiveSession").WithSummary("Archive a session (hidden from history by default)");
        sessions.MapPost("/{id:guid}/unarchive", ArchiveSession.Unarchive).WithName("UnarchiveSession").WithSummary("Bring an archived session back");
        sessions.MapPost("/{id:guid}/reset", ResetSession.Endpoint).WithName("ResetSession").WithSummary("Remove a session's messages, keep the session");
        sessions.MapDelete("/{id:guid}", DeleteSession.Endpoint).WithName("DeleteSession").WithSummary("Delete a session with its messages and files");
        SendMessage.Map(sessions);

        var readable = app.MapGroup("/v1/chat/sessions").WithTags("Sessions").RequireAuthorization(AuthSetup.OptionalPolicy);
        readable.MapGet("/{id:guid}", GetSession.Endpoint).WithName("GetSession").WithSummary("A session with its messages (a guest session by its id alone)");
    }
}

/// <summary>The body of the reset and delete answers.</summary>
public sealed record StatusMessage(string Message);
