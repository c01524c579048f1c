using Carter;
using ChatSlices.Infrastructure.Auth;

namespace ChatSlices.Features.Files;

/// <summary>The routes under <c>/v1/files</c>. A session's files and its upload are mapped with the session routes.</summary>
public sealed class FilesEndpoints : ICarterModule
{
    /// <summary>A document the caller may see: one of their own sessions' files, or (for admins) an assistant's knowledge.</summary>
    public const string Visible =
        "(EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = d.session_id AND s.user_id = @UserId) OR (d.assistant_id IS NOT NULL AND @IsAdmin))";

    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var files = app.MapGroup("/v1/files").WithTags("Files").RequireAuthorization(AuthSetup.UserPolicy);
        files.MapGet("/{id:guid}", GetFile.Endpoint).WithName("GetFile").WithSummary("A file with its extracted text");
        files.MapGet("/{id:guid}/content", GetFileContent.Endpoint).WithName("GetFileContent").WithSummary("The original PDF");
        files.MapDelete("/{id:guid}", DeleteFile.Endpoint).WithName("DeleteFile").WithSummary("Delete a file and its chunks");
    }
}
