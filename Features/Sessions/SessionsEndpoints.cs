using Carter;
using ChatSlices.Features.Files;
using ChatSlices.Features.StreamChat;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.OpenApi;
using ChatSlices.Infrastructure.RateLimiting;

namespace ChatSlices.Features.Sessions;

// Inside the namespace: the namespace Features.UploadPdf would hide its class's name.
using ChatSlices.Features.UploadPdf;

/// <summary>
/// Every route under <c>/v1/chat/sessions</c>: one group per policy. The session's turn (SendMessage), its files and
/// its upload live in their own slices; they are mapped here so that the prefix and its policies are set in one place.
/// </summary>
public sealed class SessionsEndpoints : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var sessions = app.MapGroup("/v1/chat/sessions").WithTags("Sessions").RequireAuthorization(AuthSetup.UserPolicy);
        sessions.MapPost("", CreateSession.Endpoint).WithName("CreateSession").WithSummary("Create an empty session")
            .ProducesProblem(StatusCodes.Status404NotFound);
        sessions.MapGet("/{id:guid}/messages", ListMessages.Endpoint).WithName("ListSessionMessages").WithSummary("A page of a session's messages, oldest first");
        sessions.MapPost("/{id:guid}/messages", SendMessage.Endpoint).WithName("SendMessage").WithMetadata(new ModelCallRoute())
            .WithSummary("A non-streaming turn: the user message and the stored reply (honours Idempotency-Key)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        sessions.MapPost("/{id:guid}/messages/{messageId:guid}/regenerate", BranchTurns.Regenerate).WithName("RegenerateReply").WithMetadata(new ModelCallRoute())
            .WithSummary("A new reply to a stored user turn, beside the old one, streamed like /v1/chat/stream; its branch becomes active")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        sessions.MapPut("/{id:guid}/messages/{messageId:guid}", BranchTurns.Edit).WithName("EditMessage").WithMetadata(new ModelCallRoute())
            .WithSummary("A new version of a user turn, beside the old one, with its reply streamed (reply: false stores it only)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        sessions.MapDelete("/{id:guid}/messages/{messageId:guid}", DeleteMessage.Endpoint).WithName("DeleteMessage")
            .WithSummary("Delete a message and every message under it").ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        sessions.MapPost("/{id:guid}/active", SwitchBranch.Endpoint).WithName("SwitchBranch")
            .WithSummary("Make the branch through a message the active one").ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        sessions.MapPut("/{id:guid}", RenameSession.Endpoint).WithName("RenameSession").WithSummary("Rename a session");
        sessions.MapPatch("/{id:guid}", UpdateSession.Endpoint).WithName("UpdateSession")
            .WithSummary("Set the session's own system_prompt, temperature, max_tokens, model (null clears) or title")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        sessions.MapPost("/{id:guid}/claim", ClaimSession.Endpoint).WithName("ClaimSession").WithSummary("Make a guest session the caller's");
        sessions.MapPost("/{id:guid}/archive", ArchiveSession.Archive).WithName("ArchiveSession").WithSummary("Archive a session (hidden from history by default)");
        sessions.MapPost("/{id:guid}/unarchive", ArchiveSession.Unarchive).WithName("UnarchiveSession").WithSummary("Bring an archived session back");
        sessions.MapPost("/{id:guid}/reset", ResetSession.Endpoint).WithName("ResetSession").WithSummary("Remove a session's messages, keep the session");
        sessions.MapDelete("/{id:guid}", DeleteSession.Endpoint).WithName("DeleteSession").WithSummary("Delete a session with its messages and files");
        sessions.MapGet("/{id:guid}/files", ListSessionFiles.Endpoint).WithOwnTag("Files").WithName("ListSessionFiles")
            .WithSummary("The session's files (without their text)");
        sessions.MapPost("/{id:guid}/upload", UploadPdf.Endpoint).WithOwnTag("Files").WithName("UploadPdf")
            .WithSummary("Upload a PDF (≤ 10 MB, checked by content) as context for the session")
            .DisableAntiforgery()
            .Accepts<IFormFile>("multipart/form-data")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        var readable = app.MapGroup("/v1/chat/sessions").WithTags("Sessions").RequireAuthorization(AuthSetup.OptionalPolicy);
        readable.MapGet("/{id:guid}", GetSession.Endpoint).WithName("GetSession").WithSummary("A session with its last 50 messages (a guest session by its id alone)");
        readable.MapGet("/{id:guid}/export", ExportSession.Endpoint).WithName("ExportSession")
            .WithSummary("The whole conversation as a file to download: JSON, or a Markdown transcript with the cited sources as footnotes")
            .Produces(StatusCodes.Status200OK, contentType: "application/json", additionalContentTypes: ["text/markdown"])
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
    }
}

/// <summary>The body of the reset and delete answers.</summary>
public sealed record StatusMessage(string Message);
