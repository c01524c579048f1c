using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Http;

namespace ChatSlices.Infrastructure.Documents;

/// <summary>The upload of a PDF (a session's file, an assistant's knowledge): the multipart field <c>file</c>, read under the PDF limit, checked by its content.</summary>
public static class PdfUpload
{
    /// <returns>The file, or 413 (too large), 415 (not multipart, or not a PDF by its content); 422 is thrown for a missing or empty file.</returns>
    public static async Task<Outcome<UploadedFile>> ReadAsync(HttpContext http, UploadSettings settings, CancellationToken ct)
    {
        var upload = await UploadedFile.ReadAsync(http, settings.MaxPdfBytes, ct);
        if (upload.Failure is not null || PdfText.LooksLikePdf(upload.Value!.Bytes)) return upload;
        return new Failure(StatusCodes.Status415UnsupportedMediaType, "The file is not a PDF (its content does not start with %PDF-).", "not_a_pdf");
    }
}
