using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ChatSlices.Tests.Support;

/// <summary>
/// nginx (Debian's, installed by test.sh) as the gateway in front of several service instances: round robin, no
/// buffering of responses (streams pass as they are written), as docker-compose's gateway does.
/// </summary>
public sealed class Gateway : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _prefix;

    public Uri Address { get; }

    private Gateway(Process process, string prefix, Uri address)
    {
        _process = process;
        _prefix = prefix;
        Address = address;
    }

    public static async Task<Gateway> StartAsync(params Uri[] instances)
    {
        var port = LoopbackPort.Free();
        var prefix = Directory.CreateTempSubdirectory("chatslices-nginx-").FullName;
        // The workers may run as another user (nginx started as root): they must be able to write their temp files.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(prefix, (UnixFileMode)0b111_111_111);
        var servers = string.Concat(instances.Select(i => $"    server {i.Authority};\n"));
        await File.WriteAllTextAsync(Path.Combine(prefix, "nginx.conf"), $$"""
            worker_processes 1;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections 256; }
            http {
              access_log off;
              client_body_temp_path {{prefix}}/body;
              proxy_temp_path {{prefix}}/proxy;
              fastcgi_temp_path {{prefix}}/fastcgi;
              uwsgi_temp_path {{prefix}}/uwsgi;
              scgi_temp_path {{prefix}}/scgi;
              upstream chatslices {
            {{servers}}  }
              server {
                listen 127.0.0.1:{{port}};
                location / {
                  proxy_pass http://chatslices;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_buffering off;
                  proxy_read_timeout 300s;
                  # An instance that is stopping closes connections it has not answered: the request goes to the
                  # next instance, even a POST (nothing of it was processed; a response once begun is never retried).
                  proxy_next_upstream error timeout non_idempotent;
                  proxy_next_upstream_tries 2;
                }
              }
            }
            """);
        var start = new ProcessStartInfo("/usr/sbin/nginx") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-p", prefix, "-c", Path.Combine(prefix, "nginx.conf"), "-g", "daemon off;" }) start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start: run the tests through ./test.sh.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var gateway = new Gateway(process, prefix, new Uri($"http://127.0.0.1:{port}"));
        if (await LoopbackPort.WaitListeningAsync(port, TimeSpan.FromSeconds(10), () => process.HasExited)) return gateway;
        var errors = ReadLog(prefix);
        await gateway.DisposeAsync();
        throw new InvalidOperationException($"nginx did not listen on {port}: {errors}");
    }

    public HttpClient Client() => new(new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero })
    {
        BaseAddress = Address,
        Timeout = TimeSpan.FromSeconds(60),
    };

    private static string ReadLog(string prefix) =>
        File.Exists(Path.Combine(prefix, "error.log")) ? File.ReadAllText(Path.Combine(prefix, "error.log")) : "(no error.log)";


    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_prefix, recursive: true);
    }
}
