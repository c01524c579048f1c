using ChatSlices.Infrastructure.Documents;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.RateLimiting;
using Dapper;
using MediatR;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Features.Assistants;

/// <summary>POST /v1/assistants/{id}/documents (admin): a PDF joins the assistant's knowledge, and its cache scope moves on with it (one transaction).</summary>
public static class AddKnowledge
{
    /// <param name="Caller">The admin uploading, whose daily upload quota (the admin tier's, unlimited unless configured) the file counts against.</param>
    public sealed record Command(Guid AssistantId, Caller Caller, UploadedFile File) : IRequest<Outcome<(FileView File, bool Created)>>;

    private const string ExistsSql = "SELECT EXISTS (SELECT 1 FROM assistants WHERE id = @AssistantId)";

    // The document and the bump of the assistant's knowledge_version are stored in one transaction by the ingestion.
    public sealed class Handler(NpgsqlDataSource db, DocumentIngestion ingestion) : IRequestHandler<Command, Outcome<(FileView File, bool Created)>>
    {
        public async Task<Outcome<(FileView File, bool Created)>> Handle(Command command, CancellationToken ct)
        {
            await using (var conn = await db.OpenConnectionAsync(ct))
                if (!await conn.ExecuteScalarAsync<bool>(new CommandDefinition(ExistsSql, command, cancellationToken: ct)))
                    return Failure.NotFound("Assistant");
            return await ingestion.IngestAsync(new DocumentOwner(null, command.AssistantId), command.Caller, command.File.FileName, command.File.Bytes, null, ct);
        }
    }

    public static async Task<Results<Created<FileView>, Ok<FileView>, ProblemHttpResult>> Endpoint(Guid id, HttpContext http,
        IMediator mediator, IOptions<UploadSettings> settings, CancellationToken ct)
    {
        var upload = await PdfUpload.ReadAsync(http, settings.Value, ct);
        if (upload.Failure is { } refused) return refused.ToResult();
        var outcome = await mediator.Send(new Command(id, Caller.Of(http), upload.Value!), ct);
        if (outcome.Failure is { } failure) return failure.ToResult();
        var (file, created) = outcome.Value;
        return created ? TypedResults.Created($"/v1/files/{file.Id}", file) : TypedResults.Ok(file);
    }
}

/// <summary>GET /v1/assistants/{id}/documents (admin).</summary>
public static class ListKnowledge
{
    public sealed record Query(Guid AssistantId) : IRequest<Response?>;

    public sealed record Response(IReadOnlyList<FileView> Items);

    private const string Sql = $"""
        SELECT EXISTS (SELECT 1 FROM assistants WHERE id = @AssistantId);
        SELECT {DocumentIngestion.FileColumns} FROM documents d WHERE d.assistant_id = @AssistantId ORDER BY d.created_at;
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response?>
    {
        public async Task<Response?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, query, cancellationToken: ct));
            if (!await results.ReadSingleAsync<bool>()) return null;
            return new Response((await results.ReadAsync<FileView>()).AsList());
        }
    }

    public static async Task<Results<Ok<Response>, NotFound>> Endpoint(Guid id, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Query(id), ct) is { } documents ? TypedResults.Ok(documents) : TypedResults.NotFound();
}
