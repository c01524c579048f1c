using System.Diagnostics;
using ChatSlices.Bench.Common;

namespace ChatSlices.Bench;

/// <summary>One plain nginx hop in front of the fake: <c>proxy_pass</c> with <c>proxy_buffering off</c>, keep-alive upstream.</summary>
public static class Nginx
{
    public static ChildProcess? TryStart(string nginxPath, string workDir, int listenPort, int upstreamPort, string? pidFile, out string? problem)
    {
        problem = null;
        if (!File.Exists(nginxPath))
        {
            problem = $"{nginxPath} not found";
            return null;
        }
        var dir = Path.Combine(workDir, "nginx");
        Directory.CreateDirectory(dir);
        foreach (var temp in new[] { "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }) Directory.CreateDirectory(Path.Combine(dir, temp));
        var user = Environment.UserName == "root" ? "user root;\n" : "";
        var conf = $$"""
            {{user}}worker_processes auto;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 8192; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/client_body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                keepalive_requests 100000;
                upstream fake { server 127.0.0.1:{{upstreamPort}}; keepalive 1024; keepalive_requests 100000; }
                server {
                    listen 127.0.0.1:{{listenPort}};
                    location / {
                        proxy_pass http://fake;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_buffering off;
                    }
                }
            }
            """;
        var confPath = Path.Combine(dir, "nginx.conf");
        File.WriteAllText(confPath, conf);
        var info = new ProcessStartInfo(nginxPath)
        {
            ArgumentList = { "-p", dir + "/", "-c", confPath, "-e", Path.Combine(dir, "error.log"), "-g", "daemon off; master_process on;" },
        };
        try
        {
            return ChildProcess.Start("nginx", info, Path.Combine(dir, "stdout.log"), pidFile);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            problem = e.Message;
            return null;
        }
    }
}
