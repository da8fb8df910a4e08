using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Npgsql;

namespace Hermes.Bench.Worker;

/// <summary>
/// A durable PostgreSQL cluster (fsync on), a migrated database, and a loopback receiver that answers 200 at
/// once and notes when each webhook-id arrived. The worker runs as its own process, as in production.
/// </summary>
public sealed class BenchEnvironment : IAsyncDisposable
{
    public const string DatabaseName = "hermes_bench";

    private BenchEnvironment(LocalPostgresCluster cluster, NpgsqlDataSource dataSource, WebApplication receiver, string workerDll)
    {
        Cluster = cluster;
        DataSource = dataSource;
        ReceiverApp = receiver;
        WorkerDll = workerDll;
    }

    public LocalPostgresCluster Cluster { get; }

    public NpgsqlDataSource DataSource { get; }

    public string WorkerDll { get; }

    public WebApplication ReceiverApp { get; }

    /// <summary>Started with PostgreSQL's own defaults rather than <see cref="ShippedConfiguration"/>.</summary>
    public bool StockPostgres { get; private init; }

    public Uri ReceiverUrl { get; private set; } = null!;

    /// <summary>Stopwatch ticks at which each webhook-id was received (first time).</summary>
    public ConcurrentDictionary<string, long> Received { get; } = new(StringComparer.Ordinal);

    public int Duplicates;

    /// <summary>The PostgreSQL configuration Hermes ships (docker-compose.yml mounts it), read from the repository.</summary>
    public const string ShippedConfiguration = "deploy/postgres/postgresql.conf";

    /// <summary>
    /// Starts the cluster, with the settings of <see cref="ShippedConfiguration"/> (memory, WAL and checkpoints,
    /// autovacuum, pg_stat_statements: what compose runs), or, with <c>HERMES_BENCH_POSTGRES=stock</c> (the scripts'
    /// <c>--stock-postgres</c>), PostgreSQL's own defaults, as every figure recorded before 2026-12-07 05:20 UTC was measured.
    /// </summary>
    public static async Task<BenchEnvironment> StartAsync(string workerDll)
    {
        var stockPostgres = Environment.GetEnvironmentVariable("HERMES_BENCH_POSTGRES") == "stock";
        var configuration = stockPostgres ? [] : await File.ReadAllLinesAsync(ShippedConfiguration);
        var cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = true, StopWithProcessId = Environment.ProcessId, MaxConnections = 200, Configuration = configuration },
            CancellationToken.None);
        await cluster.CreateDatabaseAsync(DatabaseName);
        var connectionString = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(DatabaseName)) { MaxPoolSize = 100 }.ConnectionString;
        var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var context = PersistenceExtensions.CreateContext(dataSource))
        {
            await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        }

        // A schema variant to measure (HERMES_BENCH_SCHEMA_SQL, see run.sh): SQL run once on the migrated database.
        if (Environment.GetEnvironmentVariable("HERMES_BENCH_SCHEMA_SQL") is { Length: > 0 } variant)
        {
            await using var command = dataSource.CreateCommand(variant);
            await command.ExecuteNonQueryAsync();
            Console.WriteLine($"schema variant: {variant}");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var bench = new BenchEnvironment(cluster, dataSource, app, Path.GetFullPath(workerDll)) { StockPostgres = stockPostgres };
        app.MapPost("/webhook", (HttpContext context) =>
        {
            var at = Stopwatch.GetTimestamp();
            var id = context.Request.Headers["webhook-id"].ToString();
            if (!bench.Received.TryAdd(id, at))
            {
                Interlocked.Increment(ref bench.Duplicates);
            }

            return Results.Text("""{"brevoContactId": 4711}""", "application/json");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        bench.ReceiverUrl = new Uri(address + "/webhook");
        return bench;
    }

    public string Describe()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(static l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
        return string.Create(CultureInfo.InvariantCulture,
            $"machine: {Environment.ProcessorCount} cores ({cpu}), {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB, load average {string.Join(' ', load)}; PostgreSQL local cluster, fsync on, synchronous_commit on, {(StockPostgres ? "PostgreSQL's default settings (--stock-postgres)" : "the settings of " + ShippedConfiguration)}");
    }

    /// <summary>CPU time used so far by the cluster's postmaster and its live backends.</summary>
    public TimeSpan PostgresCpuTime()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(Cluster.DataDirectory, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (pid == postmaster || parent == postmaster)
                {
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // The process ended meanwhile.
            }
        }

        // USER_HZ is 100 on Linux.
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    public static TimeSpan OwnCpuTime() => Process.GetCurrentProcess().TotalProcessorTime;

    /// <summary>A child process's CPU time so far (user and system), read afresh.</summary>
    public static TimeSpan CpuTimeOf(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    public async Task ResetAsync()
    {
        await using var command = DataSource.CreateCommand("TRUNCATE hermes_delivery_attempts, hermes_outbox, hermes_leads RESTART IDENTITY CASCADE; CHECKPOINT");
        await command.ExecuteNonQueryAsync();
        Received.Clear();
        Duplicates = 0;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>The first row's columns, as numbers.</summary>
    public async Task<long[]> RowAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return [.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? 0 : Convert.ToInt64(reader.GetValue(i), CultureInfo.InvariantCulture))];
    }

    /// <summary>The first column of every row, as numbers.</summary>
    public async Task<List<long>> ColumnAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<long>();
        while (await reader.ReadAsync())
        {
            values.Add(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture));
        }

        return values;
    }

    /// <summary>
    /// Starts the worker process with the given Outbox settings; stopped with SIGTERM on dispose. With
    /// <paramref name="waitForStart"/> it returns after giving the process 3 s to start and connect; without, at once
    /// (a drain timed from the process start).
    /// </summary>
    public async Task<WorkerProcess> StartWorkerAsync(IDictionary<string, string> outbox, bool waitForStart = true)
    {
        // A .dll is the framework-dependent build, run by dotnet; anything else is the native worker the image runs.
        var start = new ProcessStartInfo(WorkerDll.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : WorkerDll,
            WorkerDll.EndsWith(".dll", StringComparison.Ordinal) ? [WorkerDll] : [])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(WorkerDll)!,
        };
        var env = start.Environment;
        env.Remove("DATABASE_URL");
        env["ConnectionStrings__Hermes"] = Cluster.ConnectionString(DatabaseName);
        env["N8N_WEBHOOK_URL"] = ReceiverUrl.ToString();
        env["HERMES_WEBHOOK_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        env["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        env["Logging__LogLevel__Default"] = "Information"; // the level the worker ships with: measured as it runs
        env["Outbox__WorkerId"] = "bench-worker";
        foreach (var (key, value) in outbox)
        {
            env["Outbox__" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the worker.");
        var worker = new WorkerProcess(process);
        if (!waitForStart)
        {
            return worker;
        }

        // Ready when it has looked at the (empty) table once: give it a moment to start and connect.
        await Task.Delay(TimeSpan.FromSeconds(3));
        if (process.HasExited)
        {
            throw new InvalidOperationException("The worker exited: " + await process.StandardError.ReadToEndAsync() + await process.StandardOutput.ReadToEndAsync());
        }

        return worker;
    }

    public async ValueTask DisposeAsync()
    {
        await ReceiverApp.StopAsync();
        await ReceiverApp.DisposeAsync();
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await Cluster.DisposeAsync();
    }
}

/// <summary>The worker as a child process; SIGTERM and a wait on dispose.</summary>
public sealed class WorkerProcess(Process process) : IAsyncDisposable
{
    public TimeSpan CpuTime => BenchEnvironment.CpuTimeOf(process);

    private readonly Task<string> _output = process.StandardOutput.ReadToEndAsync();
    private readonly Task<string> _errors = process.StandardError.ReadToEndAsync();

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill!.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
        }

        var errors = await _errors;
        var output = await _output;
        if (process.ExitCode != 0 || errors.Length > 0 || output.Contains("fail:", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"worker exit code {process.ExitCode}:\n{output}\n{errors}");
        }

        process.Dispose();
    }
}
