using System.Diagnostics;
using Hermes.Persistence.Local;
using Npgsql;

namespace Hermes.Tests.Deploy;

/// <summary>
/// deploy/postgres/postgresql.conf: a throwaway PostgreSQL 15 is started with it as its config_file (only the
/// port, listen address and socket folder are overridden, to stay out of everyone's way) and asked what it runs with.
/// </summary>
public sealed class PostgresConfigTests
{
    private string _root = "";
    private string _bin = "";
    private int _port;
    private Process? _watchdog;

    private static bool IsRoot => Environment.UserName == "root";

    private string DataDirectory => Path.Combine(_root, "data");

    [OneTimeSetUp]
    public async Task StartWithTheShippedConfigAsync()
    {
        _bin = LocalPostgresCluster.FindBinDirectory()
            ?? throw new IgnoreException("No PostgreSQL server binaries here (apt-get install -y postgresql), so postgresql.conf was not started.");
        _root = Directory.CreateTempSubdirectory("hermes-pgconf-").FullName;
        File.Copy(RepositoryFiles.PathOf("deploy", "postgres", "postgresql.conf"), Path.Combine(_root, "postgresql.conf"));
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", "postgres:postgres", _root], asPostgres: false);
        }

        await RunAsync(Path.Combine(_bin, "initdb"), ["-D", DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], asPostgres: true);
        _port = LocalProcesses.FreeLoopbackPort();
        var settings = $"-c config_file={_root}/postgresql.conf -p {_port} -c listen_addresses=127.0.0.1 -k {_root}";
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-l", Path.Combine(_root, "postgres.log"), "-w", "-t", "60", "-o", settings, "start"], asPostgres: true);
        StartWatchdog();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_root.Length == 0)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-m", "fast", "-w", "stop"], asPostgres: true);
        }

        if (_watchdog is { HasExited: false })
        {
            _watchdog.Kill();
        }

        _watchdog?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private NpgsqlConnection Connect() =>
        new(new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = _port, Username = "postgres", Database = "postgres", Pooling = false }.ConnectionString);

    private async Task<string> ShowAsync(string setting)
    {
        await using var connection = Connect();
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_setting($1)", connection) { Parameters = { new() { Value = setting } } };
        return (string)(await command.ExecuteScalarAsync())!;
    }

    [Test]
    public async Task The_server_runs_with_every_setting_of_the_file_and_no_errors_in_it()
    {
        await using var connection = Connect();
        await connection.OpenAsync();
        // The only settings not applied are the ones this test overrides on the command line.
        await using var errors = new NpgsqlCommand("SELECT string_agg(name || ': ' || error, ', ' ORDER BY name) FROM pg_file_settings WHERE error IS NOT NULL", connection);
        await using var fromFile = new NpgsqlCommand("SELECT count(*) FROM pg_settings WHERE sourcefile LIKE '%/postgresql.conf'", connection);

        Assert.That(await errors.ExecuteScalarAsync(), Is.EqualTo("listen_addresses: setting could not be applied, port: setting could not be applied"));
        Assert.That((long)(await fromFile.ExecuteScalarAsync())!, Is.GreaterThan(30));
        Assert.That(await ShowAsync("config_file"), Is.EqualTo(Path.Combine(_root, "postgresql.conf")));
    }

    [TestCase("fsync", "on")]
    [TestCase("synchronous_commit", "on")]
    [TestCase("full_page_writes", "on")]
    public async Task Durability_stays_on(string setting, string expected)
    {
        Assert.That(await ShowAsync(setting), Is.EqualTo(expected));
    }

    [TestCase("max_wal_size", "2GB")]
    [TestCase("checkpoint_timeout", "15min")]
    [TestCase("checkpoint_completion_target", "0.9")]
    [TestCase("autovacuum_naptime", "15s")]
    [TestCase("idle_in_transaction_session_timeout", "1min")]
    public async Task Wal_checkpoint_and_vacuum_settings_come_from_the_file(string setting, string expected)
    {
        Assert.That(await ShowAsync(setting), Is.EqualTo(expected));
    }

    [Test]
    public async Task Pg_stat_statements_is_preloaded_and_records_statements()
    {
        await using var connection = Connect();
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand(await File.ReadAllTextAsync(RepositoryFiles.PathOf("deploy", "postgres", "initdb", "01-pg-stat-statements.sql")), connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using (var probe = new NpgsqlCommand("SELECT 1 AS hermes_pgss_probe", connection))
        {
            await probe.ExecuteScalarAsync();
        }

        await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%hermes_pgss_probe%'", connection);

        Assert.That(await ShowAsync("shared_preload_libraries"), Is.EqualTo("pg_stat_statements"));
        Assert.That((long)(await count.ExecuteScalarAsync())!, Is.GreaterThanOrEqualTo(1));
    }

    private void StartWatchdog()
    {
        // Stops the server if the test process is killed before the tear-down runs.
        var pgCtl = Path.Combine(_bin, "pg_ctl");
        var stop = IsRoot ? $"runuser -u postgres -- '{pgCtl}'" : $"'{pgCtl}'";
        var script = $"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; {stop} -D '{DataDirectory}' -m immediate stop; rm -rf '{_root}'";
        _watchdog = LocalProcesses.StartDetachedShell(script);
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, bool asPostgres)
    {
        var result = asPostgres && IsRoot
            ? await ExternalTool.RunAsync("runuser", ["-u", "postgres", "--", file, .. arguments], workingDirectory: Path.GetTempPath())
            : await ExternalTool.RunAsync(file, arguments, workingDirectory: Path.GetTempPath());
        Assert.That(result.ExitCode, Is.Zero, $"{file} {string.Join(' ', arguments)}: {result.Describe()}");
    }
}
