using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Hermes.Persistence.Local;

/// <summary>What the local cluster and the tests that start processes of their own both need.</summary>
internal static class LocalProcesses
{
    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Runs <paramref name="script"/> with <c>sh -c</c> in a session of its own (<c>setsid</c>), so that it outlives
    /// this process and its process group: the watchdogs that clean up after a process killed without warning.
    /// </summary>
    public static Process StartDetachedShell(string script) =>
        Process.Start(new ProcessStartInfo("setsid", ["sh", "-c", script])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("setsid could not be started.");
}
