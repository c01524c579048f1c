using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace ChatSlices.Tests.Support;

public static class Uploads
{
    public static MultipartFormDataContent Form(byte[] bytes, string filename = "document.pdf", string contentType = "application/pdf", string? metadata = null)
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        var form = new MultipartFormDataContent { { file, "file", filename } };
        if (metadata is not null) form.Add(new StringContent(metadata), "metadata");
        return form;
    }

    /// <summary>
    /// Sends a request head and as much of the body as the server takes, over a raw socket, and returns the raw
    /// response: for checking that an oversized body is refused while it streams in.
    /// </summary>
    public static async Task<string> RawAsync(Uri server, string head, byte[] body)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(server.Host, server.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        try
        {
            for (var offset = 0; offset < body.Length && !stream.DataAvailable; offset += 64 * 1024)
                await stream.WriteAsync(body.AsMemory(offset, Math.Min(64 * 1024, body.Length - offset)));
        }
        catch (IOException)
        {
            // The server stopped reading: its answer is waiting.
        }
        var reply = new StringBuilder();
        var buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            int read;
            while (!reply.ToString().Contains("trace_id") && (read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
                reply.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        catch (IOException)
        {
            // Connection reset after the answer.
        }
        return reply.ToString();
    }
}
