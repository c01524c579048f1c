using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ChatSlices.Tests.Support;

/// <summary>Loopback ports for the servers a test starts as processes.</summary>
public static class LoopbackPort
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits until something accepts connections on <paramref name="port"/>; false after <paramref name="timeout"/> or once <paramref name="gaveUp"/>.</summary>
    public static async Task<bool> WaitListeningAsync(int port, TimeSpan timeout, Func<bool> gaveUp)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout && !gaveUp())
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        return false;
    }
}
