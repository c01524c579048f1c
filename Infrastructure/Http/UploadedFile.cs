using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Microsoft.AspNetCore.Http.Features;

namespace ChatSlices.Infrastructure.Http;

/// <summary>One file from a multipart form, with the other form fields.</summary>
public sealed record UploadedFile(string FileName, byte[] Bytes, IFormCollection Form)
{
    /// <summary>Multipart overhead allowed on top of the file's own limit.</summary>
    private const long FormOverhead = 64 * 1024;

    /// <summary>
    /// Reads the multipart field <c>file</c>, refusing more than <paramref name="maxBytes"/>: by the announced length at
    /// once, and by capping what Kestrel reads, so an oversized upload is never buffered whole (413 either way).
    /// </summary>
    public static async Task<Outcome<UploadedFile>> ReadAsync(HttpContext http, long maxBytes, CancellationToken ct)
    {
        var tooLarge = new Failure(StatusCodes.Status413PayloadTooLarge, $"The file is larger than {Size(maxBytes)}.", "file_too_large");
        if (http.Request.ContentLength > maxBytes + FormOverhead) return tooLarge;
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = maxBytes + FormOverhead;
        if (!http.Request.HasFormContentType)
            return new Failure(StatusCodes.Status415UnsupportedMediaType, "Send the file as multipart/form-data in a field named file.", "not_multipart");

        var form = await http.Request.ReadFormAsync(ct);
        if (form.Files.GetFile("file") is not { } file) throw RequestValidationException.For("file", "Required: a multipart field named file.");
        if (file.Length > maxBytes) return tooLarge;
        if (file.Length == 0) throw RequestValidationException.For("file", "The file is empty.");
        var bytes = new byte[file.Length];
        await using (var stream = file.OpenReadStream()) await stream.ReadExactlyAsync(bytes, ct);
        return new UploadedFile(Path.GetFileName(file.FileName), bytes, form);
    }

    private static string Size(long bytes) => bytes >= 1024 * 1024 ? $"{bytes / (1024.0 * 1024):0.#} MB" : $"{bytes / 1024} KB";
}
