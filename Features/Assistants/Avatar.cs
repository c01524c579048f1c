using System.Security.Claims;
using System.Security.Cryptography;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Documents;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Images;
using Dapper;
using MediatR;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Npgsql;

namespace ChatSlices.Features.Assistants;

/// <summary>POST /v1/assistants/{id}/avatar (admin): PNG, JPEG, GIF or WebP by content, ≤ 2 MB, at most 4096 px a side.</summary>
public static class UploadAvatar
{
    public const int MaxSide = 4096;

    public sealed record Command(Guid Id, byte[] Bytes, string ContentType) : IRequest<AssistantView?>;

    // One statement: the new image replaces the old one atomically.
    private const string Sql = $"""
        WITH a AS (
            UPDATE assistants SET avatar = @Bytes, avatar_type = @ContentType, avatar_etag = @ETag, updated_at = now()
            WHERE id = @Id RETURNING *
        )
        SELECT {AssistantView.Columns} FROM a
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, AssistantView?>
    {
        public async Task<AssistantView?> Handle(Command command, CancellationToken ct)
        {
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(command.Bytes))[..32] + "\"";
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<AssistantView>(new CommandDefinition(Sql,
                new { command.Id, command.Bytes, command.ContentType, ETag = etag }, cancellationToken: ct));
        }
    }

    public static async Task<IResult> Endpoint(Guid id, HttpContext http, IMediator mediator, IOptions<UploadSettings> settings, CancellationToken ct)
    {
        var upload = await UploadedFile.ReadAsync(http, settings.Value.MaxAvatarBytes, ct);
        if (upload.Failure is { } refused) return refused.ToResult();
        if (ImageSniffer.Detect(upload.Value!.Bytes) is not { } image)
            return new Failure(StatusCodes.Status415UnsupportedMediaType, "The avatar must be a PNG, JPEG, GIF or WebP image (checked by its content).", "not_an_image").ToResult();
        if (image.Width > MaxSide || image.Height > MaxSide)
            return new Failure(StatusCodes.Status422UnprocessableEntity, $"The image is {image.Width}×{image.Height}; at most {MaxSide}×{MaxSide} is accepted.", "image_too_large").ToResult();
        return await mediator.Send(new Command(id, upload.Value.Bytes, image.ContentType), ct) is { } assistant
            ? TypedResults.Ok(assistant)
            : TypedResults.NotFound();
    }
}

/// <summary>
/// GET /v1/assistants/{id}/avatar: the image with its detected type, a strong ETag (304 when it matches), and headers
/// that keep a browser from treating it as anything but an image.
/// </summary>
public static class GetAvatar
{
    public sealed record Query(Guid Id) : IRequest<Image?>;

    public sealed record Image(bool RequiresAuth, byte[]? Bytes, string? ContentType, string? ETag);

    private const string Sql = "SELECT requires_auth, avatar AS bytes, avatar_type AS content_type, avatar_etag AS etag FROM assistants WHERE id = @Id";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Image?>
    {
        public async Task<Image?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<Image>(new CommandDefinition(Sql, query, cancellationToken: ct));
        }
    }

    public static async Task<IResult> Endpoint(Guid id, HttpContext http, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        if (await mediator.Send(new Query(id), ct) is not { Bytes: not null } image) return TypedResults.NotFound();
        if (image.RequiresAuth && user.UserId() is null) return TypedResults.Unauthorized();

        var headers = http.Response.Headers;
        headers.ETag = image.ETag;
        headers.CacheControl = image.RequiresAuth ? "private, max-age=300" : "public, max-age=3600";
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = "default-src 'none'";
        if (image.ETag is { } etag && Matches(http.Request.GetTypedHeaders().IfNoneMatch, etag)) return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        return TypedResults.File(image.Bytes, image.ContentType);
    }

    /// <summary>If-None-Match as RFC 9110 reads it: a list of tags or <c>*</c>, compared weakly.</summary>
    private static bool Matches(IList<EntityTagHeaderValue> ifNoneMatch, string etag)
    {
        var current = EntityTagHeaderValue.Parse(etag);
        return ifNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: false));
    }
}

/// <summary>DELETE /v1/assistants/{id}/avatar (admin).</summary>
public static class DeleteAvatar
{
    public sealed record Command(Guid Id) : IRequest<AssistantView?>;

    private const string Sql = $"""
        WITH a AS (
            UPDATE assistants SET avatar = NULL, avatar_type = NULL, avatar_etag = NULL, updated_at = now() WHERE id = @Id RETURNING *
        )
        SELECT {AssistantView.Columns} FROM a
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, AssistantView?>
    {
        public async Task<AssistantView?> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<AssistantView>(new CommandDefinition(Sql, command, cancellationToken: ct));
        }
    }

    public static async Task<Results<Ok<AssistantView>, NotFound>> Endpoint(Guid id, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id), ct) is { } assistant ? TypedResults.Ok(assistant) : TypedResults.NotFound();
}
