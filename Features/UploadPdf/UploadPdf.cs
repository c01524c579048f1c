using System.Security.Claims;
using System.Text.Json;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Documents;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.RateLimiting;
using Dapper;
using MediatR;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Features.UploadPdf;

/// <summary>
/// POST /v1/chat/sessions/{id}/upload (multipart <c>file</c>, optional <c>metadata</c> JSON object for retrieval
/// filters, e.g. <c>{"collection": "handbook"}</c>): a PDF, checked by its content, becomes the session's context. It counts
/// against the uploader's daily upload quota (429), waits in the bounded extraction queue (503 when full), and its
/// embeddings show in the uploader's usage report.
/// </summary>
public static class UploadPdf
{
    /// <param name="Caller">The uploader, whose daily upload quota the file counts against.</param>
    public sealed record Command(Guid SessionId, string UserId, Caller Caller, string FileName, byte[] Bytes, string? RawMetadata)
        : IRequest<Outcome<(FileView File, bool Created)>>, IValidated
    {
        public JsonElement? Metadata => RawMetadata is null ? null : JsonDocument.Parse(RawMetadata).RootElement;

        public void Validate(ValidationErrors errors)
        {
            errors.Length(FileName, "file", 1, 255);
            if (RawMetadata is null) return;
            try
            {
                errors.Require(JsonDocument.Parse(RawMetadata).RootElement.ValueKind == JsonValueKind.Object, "metadata", "Must be a JSON object.");
            }
            catch (JsonException)
            {
                errors.Add("metadata", "Must be a JSON object.");
            }
            errors.Length(RawMetadata, "metadata", 2, 4096);
        }
    }

    public sealed record Response(FileView File, string Message);

    private const string OwnsSessionSql = "SELECT EXISTS (SELECT 1 FROM chat_sessions WHERE id = @SessionId AND user_id = @UserId)";

    public sealed class Handler(NpgsqlDataSource db, DocumentIngestion ingestion) : IRequestHandler<Command, Outcome<(FileView File, bool Created)>>
    {
        public async Task<Outcome<(FileView File, bool Created)>> Handle(Command command, CancellationToken ct)
        {
            await using (var conn = await db.OpenConnectionAsync(ct))
                if (!await conn.ExecuteScalarAsync<bool>(new CommandDefinition(OwnsSessionSql, command, cancellationToken: ct)))
                    return Failure.NotFound("Session");
            return await ingestion.IngestAsync(new DocumentOwner(command.SessionId, null), command.Caller,
                command.FileName, command.Bytes, command.Metadata, ct);
        }
    }

    public static async Task<Results<Created<Response>, Ok<Response>, ProblemHttpResult>> Endpoint(Guid id, HttpContext http,
        ClaimsPrincipal user, IMediator mediator, IOptions<UploadSettings> settings, CancellationToken ct)
    {
        var upload = await PdfUpload.ReadAsync(http, settings.Value, ct);
        if (upload.Failure is { } refused) return refused.ToResult();
        var file = upload.Value!;
        var outcome = await mediator.Send(new Command(id, user.RequiredUserId(), Caller.Of(http), file.FileName, file.Bytes, file.Form["metadata"].FirstOrDefault()), ct);
        if (outcome.Failure is { } failure) return failure.ToResult();
        var (stored, created) = outcome.Value;
        return created
            ? TypedResults.Created($"/v1/files/{stored.Id}", new Response(stored, "File uploaded successfully"))
            : TypedResults.Ok(new Response(stored, "File already uploaded"));
    }
}
