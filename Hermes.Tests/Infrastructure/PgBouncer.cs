using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Hermes.Persistence.Local;
using Npgsql;

namespace Hermes.Tests.Infrastructure;

/// <summary>How a test's <see cref="PgBouncer"/> pools.</summary>
public sealed record PgBouncerSettings
{
    /// <summary><c>session</c> or <c>transaction</c>.</summary>
    public string PoolMode { get; init; } = "session";

    /// <summary>
    /// PgBouncer's <c>ignore_startup_parameters</c>; the default is the value PgBouncer's own documentation shows.
    /// Empty: PgBouncer refuses every start-up parameter it does not track itself (<c>options</c> among them).
    /// </summary>
    public string IgnoreStartupParameters { get; init; } = "extra_float_digits";
}

/// <summary>
/// A real PgBouncer (Debian's <c>pgbouncer</c>) in front of the test PostgreSQL, started from a pgbouncer.ini and a
/// userlist written into a folder of its own, listening on a free 127.0.0.1 port, every database name passed through
/// to the same name on the test server. PgBouncer refuses to run as root: as root it switches to the
/// <c>postgres</c> user (<c>-u</c>). Tests that need it are skipped with the install command when it is missing, and
/// fail instead under <c>HERMES_REQUIRE_PGBOUNCER=1</c> (set by .ci/run). It is stopped on dispose, and by a
/// watchdog when the test process is killed.
/// </summary>
public sealed class PgBouncer : IAsyncDisposable
{
    public const string RequireVariable = "HERMES_REQUIRE_PGBOUNCER";
    public const string Install = "apt-get install -y pgbouncer";
    private const string RunAsUser = "postgres";

    private readonly string _directory;
    private readonly Process _process;
    private readonly Process _watchdog;

    private PgBouncer(string directory, int port, Process process, Process watchdog)
    {
        _directory = directory;
        Port = port;
        _process = process;
        _watchdog = watchdog;
    }

    public int Port { get; }

    /// <summary>What PgBouncer logged so far.</summary>
    public string Log => File.Exists(LogPath(_directory)) ? File.ReadAllText(LogPath(_directory)) : "";

    /// <summary><paramref name="connectionString"/> (a database on the test server) with its host and port replaced by this PgBouncer's.</summary>
    public string ConnectionStringFor(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Host = "127.0.0.1", Port = Port }.ConnectionString;

    /// <summary>The pgbouncer binary, or skips the test (fails it under <see cref="RequireVariable"/>=1) with how to install it.</summary>
    public static string Find()
    {
        foreach (var candidate in new[] { Deploy.ExternalTool.Find("pgbouncer"), "/usr/sbin/pgbouncer" })
        {
            if (candidate is not null && File.Exists(candidate))
            {
                return candidate;
            }
        }

        var reason = $"PgBouncer is not installed; `{Install}` provides it.";
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            Assert.Fail(reason + $" ({RequireVariable}=1 requires it.)");
        }

        Assert.Ignore(reason);
        return "";
    }

    /// <summary>Starts PgBouncer in front of the test server and waits until it accepts connections.</summary>
    public static async Task<PgBouncer> StartAsync(PgBouncerSettings settings)
    {
        var binary = Find();
        var server = new NpgsqlConnectionStringBuilder(TestPostgres.AdminConnectionString);
        var directory = Path.Combine(Path.GetTempPath(), "hermes-pgbouncer-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var port = LocalProcesses.FreeLoopbackPort();
        var user = server.Username ?? RunAsUser;
        await File.WriteAllTextAsync(Path.Combine(directory, "userlist.txt"), $"\"{user}\" \"\"\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "pgbouncer.ini"), string.Create(CultureInfo.InvariantCulture, $"""
            [databases]
            * = host={server.Host} port={server.Port}

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = trust
            auth_file = {Path.Combine(directory, "userlist.txt")}
            pool_mode = {settings.PoolMode}
            ignore_startup_parameters = {settings.IgnoreStartupParameters}
            max_client_conn = 500
            default_pool_size = 40
            logfile = {LogPath(directory)}
            pidfile = {Path.Combine(directory, "pgbouncer.pid")}

            """));

        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            // The log and pid files are written after the switch to the postgres user.
            using var chown = Process.Start("chown", ["-R", $"{RunAsUser}:{RunAsUser}", directory])!;
            await chown.WaitForExitAsync();
        }

        var start = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (asRoot)
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add(RunAsUser);
        }

        start.ArgumentList.Add(Path.Combine(directory, "pgbouncer.ini"));
        var process = Process.Start(start) ?? throw new InvalidOperationException("pgbouncer could not be started.");
        var output = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var watchdog = LocalProcesses.StartDetachedShell(
            $"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; kill {process.Id}; rm -rf '{directory}'");
        var bouncer = new PgBouncer(directory, port, process, watchdog);
        var clock = Stopwatch.StartNew();
        while (!await AcceptsAsync(port))
        {
            if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(15))
            {
                var log = bouncer.Log;
                await bouncer.DisposeAsync();
                Assert.Fail($"PgBouncer did not start listening on 127.0.0.1:{port}: {await output}\n{log}");
            }

            await Task.Delay(50);
        }

        return bouncer;
    }

    private static string LogPath(string directory) => Path.Combine(directory, "pgbouncer.log");

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        if (!_watchdog.HasExited)
        {
            _watchdog.Kill();
        }

        _watchdog.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS's temp cleaning.
        }
    }
}
