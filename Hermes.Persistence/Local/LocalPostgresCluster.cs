using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Hermes.Persistence.Local;

/// <summary>How to start a <see cref="LocalPostgresCluster"/>.</summary>
public sealed record LocalPostgresOptions
{
    /// <summary>The cluster's folder (kept between runs); null for a throwaway one, deleted when the cluster stops.</summary>
    public string? Directory { get; init; }

    /// <summary>The TCP port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>
    /// False only for tests: <c>fsync</c>, <c>synchronous_commit</c> and <c>full_page_writes</c> off. Anything
    /// measured or used for real keeps them on: an outbox that loses commits on power loss is not an outbox.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>Stop the server when this process exits, even when it is killed (a watchdog polls it every second).</summary>
    public int? StopWithProcessId { get; init; }

    public int MaxConnections { get; init; } = 200;

    /// <summary>
    /// Lines added to a new cluster's <c>postgresql.conf</c> (a benchmark runs with the settings Hermes ships in
    /// deploy/postgres/postgresql.conf); the settings above, given on the server's command line, win over them.
    /// </summary>
    public IReadOnlyList<string> Configuration { get; init; } = [];
}

/// <summary>
/// A PostgreSQL server started from the machine's own binaries, on 127.0.0.1 with its socket inside its own
/// folder, so parallel runs and a system PostgreSQL never collide. PostgreSQL refuses to run as root: as
/// root the server runs as the <c>postgres</c> user. Used by the test fixture and by the local run.
/// </summary>
public sealed class LocalPostgresCluster : IAsyncDisposable
{
    public const string BinEnvironmentVariable = "HERMES_PG_BIN";
    public const string Superuser = "postgres";

    private readonly string _root;
    private readonly bool _throwaway;
    private readonly string _binDirectory;
    private readonly LocalPostgresOptions _options;
    private Process? _watchdog;
    private bool _stopped;

    private LocalPostgresCluster(string root, bool throwaway, string binDirectory, int port, LocalPostgresOptions options)
    {
        _root = root;
        _throwaway = throwaway;
        _binDirectory = binDirectory;
        Port = port;
        _options = options;
    }

    public int Port { get; private set; }

    public string DataDirectory => Path.Combine(_root, "data");

    public string LogFile => Path.Combine(_root, "postgres.log");

    private string SocketDirectory => Path.Combine(_root, "sock");

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>A connection string for <paramref name="database"/> as the superuser, over TCP.</summary>
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Database = database,
        Pooling = true,
        MaxPoolSize = 50,
        Timeout = 15,
    }.ConnectionString;

    /// <summary>The folder of <c>initdb</c> and <c>pg_ctl</c>: <c>HERMES_PG_BIN</c>, the newest /usr/lib/postgresql/*/bin, or the PATH.</summary>
    public static string? FindBinDirectory()
    {
        var configured = Environment.GetEnvironmentVariable(BinEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(Path.Combine(configured, "initdb")) ? configured : null;
        }

        const string debianRoot = "/usr/lib/postgresql";
        if (System.IO.Directory.Exists(debianRoot))
        {
            var newest = System.IO.Directory.GetDirectories(debianRoot)
                .Select(static d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0))
                .Where(static d => File.Exists(Path.Combine(d.Dir, "initdb")))
                .OrderByDescending(static d => d.Version)
                .FirstOrDefault();
            if (newest.Dir is not null)
            {
                return newest.Dir;
            }
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }

        return null;
    }

    /// <summary>The advice given when no binaries are found.</summary>
    public static string MissingBinariesAdvice(string externalVariable) =>
        "No PostgreSQL server binaries (initdb, pg_ctl) were found in /usr/lib/postgresql/*/bin, on the PATH, or in " +
        $"{BinEnvironmentVariable}. Either install them (Debian/Ubuntu: `apt-get install -y postgresql`) or point " +
        $"{externalVariable} at a PostgreSQL server you may create databases on (postgres://user:password@host:5432/postgres).";

    /// <summary>Initialises the cluster when its folder is new, then starts it and waits until it accepts connections.</summary>
    public static async Task<LocalPostgresCluster> StartAsync(LocalPostgresOptions options, CancellationToken cancellationToken)
    {
        var bin = FindBinDirectory() ?? throw new InvalidOperationException(MissingBinariesAdvice("DATABASE_URL"));
        var throwaway = options.Directory is null;
        var root = options.Directory is { } dir ? Path.GetFullPath(dir) : Path.Combine(Path.GetTempPath(), "hermes-pg-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(root);
        // A kept cluster keeps its port between runs, so a URL printed once stays valid.
        var portFile = Path.Combine(root, "port");
        var port = options.Port != 0 ? options.Port
            : !throwaway && File.Exists(portFile) && int.TryParse(await File.ReadAllTextAsync(portFile, cancellationToken), NumberStyles.None, CultureInfo.InvariantCulture, out var kept) ? kept
            : LocalProcesses.FreeLoopbackPort();
        var cluster = new LocalPostgresCluster(root, throwaway, bin, port, options);
        try
        {
            await cluster.InitialiseAsync(cancellationToken);
            if (!await cluster.IsRunningAsync(cancellationToken))
            {
                await cluster.StartServerAsync(cancellationToken);
            }

            if (!throwaway)
            {
                await File.WriteAllTextAsync(portFile, cluster.Port.ToString(CultureInfo.InvariantCulture), cancellationToken);
            }
            if (options.StopWithProcessId is { } pid)
            {
                cluster.StartWatchdog(pid);
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    private async Task InitialiseAsync(CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(SocketDirectory);
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", $"{Superuser}:{Superuser}", _root], asPostgres: false, cancellationToken);
            await RunAsync("chmod", ["700", _root], asPostgres: false, cancellationToken);
        }

        if (File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            return;
        }

        List<string> args = ["-D", DataDirectory, "-U", Superuser, "-A", "trust", "-E", "UTF8", "--locale=C"];
        if (!_options.Durable)
        {
            args.Add("--no-sync");
        }

        await RunAsync(Path.Combine(_binDirectory, "initdb"), args, asPostgres: true, cancellationToken);
        if (_options.Configuration.Count > 0)
        {
            await File.AppendAllLinesAsync(Path.Combine(DataDirectory, "postgresql.conf"), _options.Configuration, cancellationToken);
        }
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var settings = new List<string>
        {
            $"-p {Port}",
            $"-k {SocketDirectory}",
            "-c listen_addresses=127.0.0.1",
            $"-c max_connections={_options.MaxConnections}",
        };
        if (!_options.Durable)
        {
            settings.AddRange(["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]);
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await RunAsync(PgCtl, ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", string.Join(' ', settings), "start"], asPostgres: true, cancellationToken);
                return;
            }
            catch (InvalidOperationException) when (attempt < 3 && _options.Port == 0)
            {
                // Another process took the free port between the check and the start: try another one.
                Port = LocalProcesses.FreeLoopbackPort();
                settings[0] = $"-p {Port}";
            }
        }
    }

    private string PgCtl => Path.Combine(_binDirectory, "pg_ctl");

    /// <summary>True when the server of this folder is running (for a kept cluster, perhaps from an earlier run).</summary>
    public async Task<bool> IsRunningAsync(CancellationToken cancellationToken = default) =>
        File.Exists(Path.Combine(DataDirectory, "postmaster.pid"))
        && await RunAsync(PgCtl, ["-D", DataDirectory, "status"], asPostgres: true, cancellationToken, throwOnFailure: false) == 0;

    /// <summary>Stops the server: <c>immediate</c> is a crash (no checkpoint), otherwise a fast, clean shutdown.</summary>
    public async Task StopAsync(bool immediate = false, CancellationToken cancellationToken = default)
    {
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            await RunAsync(PgCtl, ["-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "stop"], asPostgres: true, cancellationToken);
        }
    }

    /// <summary>Stops the kept cluster in <paramref name="directory"/> when it runs; false when it was not running.</summary>
    public static async Task<bool> StopKeptAsync(string directory, CancellationToken cancellationToken = default)
    {
        var bin = FindBinDirectory() ?? throw new InvalidOperationException(MissingBinariesAdvice("DATABASE_URL"));
        var cluster = new LocalPostgresCluster(Path.GetFullPath(directory), throwaway: false, bin, port: 0, new LocalPostgresOptions { Directory = directory });
        if (!await cluster.IsRunningAsync(cancellationToken))
        {
            return false;
        }

        await cluster.StopAsync(immediate: false, cancellationToken);
        return true;
    }

    /// <summary>Starts the server again on the same port after <see cref="StopAsync"/>.</summary>
    public Task StartAgainAsync(CancellationToken cancellationToken = default) => StartServerAsync(cancellationToken);

    /// <summary>Creates an empty database, or a copy of <paramref name="template"/>.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA2100", Justification = "Identifiers cannot be parameters; both are quoted by Quote().")]
    public async Task CreateDatabaseAsync(string name, string? template = null, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {Quote(name)}" + (template is null ? "" : $" TEMPLATE {Quote(template)}");
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>True when the database exists.</summary>
    public async Task<bool> DatabaseExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = name } } };
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public async ValueTask DisposeAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        try
        {
            await StopAsync(immediate: _throwaway);
        }
        catch (InvalidOperationException)
        {
            // Already stopped (or never started); the folder is removed below either way.
        }

        if (_watchdog is { HasExited: false })
        {
            _watchdog.Kill();
        }

        _watchdog?.Dispose();
        if (_throwaway)
        {
            TryDelete(_root);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            System.IO.Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS's temp cleaning; nothing depends on it any more.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }

    private void StartWatchdog(int processId)
    {
        var stop = IsRoot ? $"runuser -u {Superuser} -- '{PgCtl}'" : $"'{PgCtl}'";
        var cleanup = _throwaway ? $"; rm -rf '{_root}'" : "";
        var script = $"exec </dev/null >/dev/null 2>&1; while kill -0 {processId}; do sleep 1; done; {stop} -D '{DataDirectory}' -m immediate stop{cleanup}";
        _watchdog = LocalProcesses.StartDetachedShell(script);
    }

    private static async Task<int> RunAsync(string file, IReadOnlyList<string> args, bool asPostgres, CancellationToken cancellationToken, bool throwOnFailure = true)
    {
        var start = asPostgres && IsRoot
            ? new ProcessStartInfo("runuser", ["-u", Superuser, "--", file, .. args])
            : new ProcessStartInfo(file, args);
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = Path.GetTempPath();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0 && throwOnFailure)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args)} failed with exit code {process.ExitCode}: {await stderr}{await stdout}");
        }

        return process.ExitCode;
    }
}
