using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ChatSlices.Bench.Common;

/// <summary>Loopback ports.</summary>
public static class Ports
{
    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int Free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static async Task<bool> WaitForListenerAsync(int port, TimeSpan timeout, Func<bool> gaveUp)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && !gaveUp())
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        return false;
    }
}
