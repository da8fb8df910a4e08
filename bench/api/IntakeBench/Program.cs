using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Hermes.Persistence.Outbox;
using Npgsql;

namespace Hermes.Bench.Api;

/// <summary>
/// Submissions per second through the API against pgbench running the same two-row insert transaction, side by
/// side in one run, on one durable (fsync on) local PostgreSQL: start the cluster, migrate, start the API (Release),
/// then alternate pgbench and wrk at the same concurrency, and print a Markdown table.
/// Usage: IntakeBench --repo DIR [--concurrency 4,8,16] [--duration 20] [--warmup 20] [--rounds 2] [--log-level Information]
/// [--pgbench-mode extended,prepared] [--group 4] [--no-anchor] [--index-cost] [--compare-single] [--api-env KEY=VALUE]... [--variant "KEY=VALUE;KEY=VALUE"]... [--npgsql "extra connection-string options for the API"]
/// </summary>
public static partial class Program
{
    public static async Task<int> Main(string[] args)
    {
        var options = BenchOptions.Parse(args);
        var inv = CultureInfo.InvariantCulture;
        var work = Path.Combine(options.Repo, "bench", "out", "api");
        Directory.CreateDirectory(work);

        await using var cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = true, StopWithProcessId = Environment.ProcessId, MaxConnections = 200 },
            CancellationToken.None);
        await cluster.CreateDatabaseAsync("hermes");
        var connectionString = cluster.ConnectionString("hermes");
        var apiConnectionString = string.IsNullOrWhiteSpace(options.NpgsqlOptions) ? connectionString : connectionString + ";" + options.NpgsqlOptions;
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var context = PersistenceExtensions.CreateContext(dataSource))
        {
            await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        }

        var settings = await ScalarAsync<string>(dataSource, "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'server_version')");
        Console.WriteLine($"PostgreSQL on 127.0.0.1:{cluster.Port}: {settings}");
        Console.WriteLine($"Load average at the start: {File.ReadAllText("/proc/loadavg").Trim()}");

        if (options.IndexCost)
        {
            return await IndexCostAsync(options, cluster, dataSource, work);
        }

        if (options.Anchor)
        {
            await RunAsync(Path.Combine(LocalPostgresCluster.FindBinDirectory()!, "psql"),
                ["-h", "127.0.0.1", "-p", Str(cluster.Port), "-U", LocalPostgresCluster.Superuser, "-q", "-v", "ON_ERROR_STOP=1", "-f", Path.Combine(options.Repo, "bench", "api", "anchor-schema.sql"), "hermes"]);
        }

        var pgbenchClients = options.PgbenchModes.Select(mode => new PgbenchClient($"pgbench -M {mode} (same transaction)", mode, Path.Combine(options.Repo, "bench", "api", "two-row-insert.sql"), 1))
            .Concat(options.Groups.Select(n => new PgbenchClient($"pgbench -M prepared, {n} leads per transaction", "prepared", GroupScript(options.Repo, work, n), n)))
            .Concat(options.Anchor ? [new PgbenchClient("anchor: pgbench -M prepared, seed's table and indexes, no trigger", "prepared", Path.Combine(options.Repo, "bench", "api", "anchor.sql"), 1, "anchor.hermes_outbox")] : [])
            .ToList();

        // The API as configured (group commit on), and with --compare-single the same API writing one lead per
        // transaction, both running throughout and measured in turn.
        static string ApiName(IReadOnlyDictionary<string, string> environment) =>
            "API (wrk, POST /api/leads)" + string.Concat(environment.Select(static e => $", {e.Key}={e.Value}"));
        List<ApiClient> apis = [new(ApiName(options.ApiEnvironment), FreePort(), options.ApiEnvironment)];
        if (options.CompareSingle)
        {
            apis.Add(new("API, one lead per transaction (Intake:GroupCommit:MaxBatch=1)", FreePort(), new Dictionary<string, string> { ["Intake__GroupCommit__MaxBatch"] = "1" }));
        }

        // --variant KEY=VALUE[;KEY=VALUE]: one more API process with these settings on top of --api-env's, measured in turn.
        foreach (var variant in options.Variants)
        {
            var environment = new Dictionary<string, string>(options.ApiEnvironment, StringComparer.Ordinal);
            foreach (var (key, value) in variant)
            {
                environment[key] = value;
            }

            apis.Add(new(ApiName(environment), FreePort(), environment));
        }

        var processes = apis.Select((a, i) => StartApi(options, apiConnectionString, a.Port, work, i == 0 ? "api.log" : $"api-{i + 1}.log", a.Environment)).ToList();
        var api = processes[0];
        try
        {
            foreach (var (client, process) in apis.Zip(processes))
            {
                await WaitForApiAsync(client.Port, process);
            }

            var results = new List<PhaseResult>();
            foreach (var concurrency in options.Concurrencies)
            {
                var at = options with { Concurrency = concurrency };
                Console.WriteLine($"Concurrency {concurrency}: warm-up {at.Warmup} s each");
                foreach (var client in apis)
                {
                    await RunWrkAsync(at, client, at.Warmup);
                }

                foreach (var client in pgbenchClients)
                {
                    await RunPgbenchAsync(at, client, cluster, work, at.Warmup);
                }

                for (var round = 1; round <= at.Rounds; round++)
                {
                    // Rotate the order, so no client always runs on the larger tables.
                    object[] clients = [.. apis, .. pgbenchClients];
                    var order = clients.Skip((round - 1) % clients.Length).Concat(clients.Take((round - 1) % clients.Length)).ToList();
                    foreach (var client in order)
                    {
                        var pgbenchClient = client as PgbenchClient;
                        var apiClient = client as ApiClient;
                        var process = apiClient is null ? api : processes[apis.IndexOf(apiClient)];
                        await ExecuteAsync(dataSource, "CHECKPOINT");
                        var before = await StoredAsync(dataSource, pgbenchClient);
                        var cpuBefore = CpuSample.Take(process.Id, cluster.DataDirectory);
                        var metricsBefore = apiClient is null ? ApiView.Nothing : await ApiView.ScrapeAsync(apiClient.Port);
                        var result = apiClient is not null
                            ? await RunWrkAsync(at, apiClient, at.Duration)
                            : await RunPgbenchAsync(at, pgbenchClient!, cluster, work, at.Duration);
                        var cpu = CpuSample.Take(process.Id, cluster.DataDirectory) - cpuBefore;
                        if (apiClient is not null)
                        {
                            var metrics = await ApiView.ScrapeAsync(apiClient.Port);
                            result = result with
                            {
                                BlockedInjections = (long)ApiView.Added(metricsBefore, metrics, BlockedInjectionsMetric),
                                Transactions = (long)ApiView.Added(metricsBefore, metrics, CommitBatchCount),
                                Inside = ApiView.Between(metricsBefore, metrics),
                            };
                        }

                        // Requests wrk left in flight finish after it stops: let them land before counting.
                        await Task.Delay(500);
                        var stored = await StoredAsync(dataSource, pgbenchClient) - before;
                        result = result with { Round = round, Concurrency = concurrency, Seconds = at.Duration, RowsStored = stored, Cpu = cpu };
                        results.Add(result);
                        Console.WriteLine(result);
                    }
                }
            }

            var leads = await ScalarAsync<long>(dataSource, "SELECT count(*) FROM hermes_leads");
            var outbox = await ScalarAsync<long>(dataSource, "SELECT count(*) FROM hermes_outbox");
            var orphans = await ScalarAsync<long>(dataSource, "SELECT count(*) FROM hermes_leads l WHERE NOT EXISTS (SELECT 1 FROM hermes_outbox o WHERE o.lead_id = l.id)");
            Console.WriteLine();
            Console.WriteLine($"Concurrency {string.Join(", ", options.Concurrencies)}, {options.Duration} s per phase, {options.Rounds} rounds, API log level {options.LogLevel}, " +
                $"API connection options '{options.NpgsqlOptions}' (on top of Hermes' defaults); " +
                $"{leads} leads and {outbox} outbox rows in Hermes' tables at the end, {orphans} leads without an outbox row. " +
                $"Load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}.");
            Console.WriteLine();
            Console.WriteLine("| connections | round | client | leads/s | p50 ms | p99 ms | requests or transactions | errors | leads stored | leads per transaction | CPU ms per lead: API / PostgreSQL / load generator |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var r in results)
            {
                double PerLead(double seconds) => 1000 * seconds / Math.Max(1, r.RowsStored);
                Console.WriteLine(string.Create(inv, $"| {r.Concurrency} | {r.Round} | {r.Name} | {r.PerSecond:F0} | {r.P50Ms:F2} | {r.P99Ms:F2} | {r.Count} | {r.Errors} | {r.RowsStored} | {(double)r.RowsStored / Math.Max(1, r.Name.StartsWith("API", StringComparison.Ordinal) ? r.Transactions : r.Count):F1} | {PerLead(r.Cpu.Api):F2} / {PerLead(r.Cpu.Postgres):F2} / {PerLead(r.Cpu.Clients):F2} |"));
            }

            Console.WriteLine();
            Console.WriteLine("Inside the API, per measured phase (from its /metrics; a histogram's p99 is the upper bound of its bucket):");
            Console.WriteLine();
            Console.WriteLine(ApiView.Header);
            foreach (var r in results.Where(static r => r.Inside is not null))
            {
                Console.WriteLine(r.Inside!.Row(r));
            }

            Console.WriteLine();
            foreach (var concurrency in options.Concurrencies)
            {
                foreach (var apiClient in apis)
                {
                    var apiRate = results.Where(r => r.Concurrency == concurrency && r.Name == apiClient.Name).Average(static r => r.PerSecond);
                    foreach (var client in pgbenchClients)
                    {
                        var pgRate = results.Where(r => r.Concurrency == concurrency && r.Name == client.Name).Average(static r => r.PerSecond);
                        Console.WriteLine(string.Create(inv, $"{concurrency} connections: {apiClient.Name} / {client.Name}: {apiRate:F0} / {pgRate:F0} = {apiRate / pgRate:F2}x"));
                    }
                }
            }

            // The check the issue asked for: a warm API under load never adds a thread for a blocked one.
            var blocked = results.Sum(static r => r.BlockedInjections);
            Console.WriteLine($"Thread-pool threads the API added for blocked ones during the measured phases: {blocked} (must be 0)");
            return results.Any(static r => r.Errors > 0) || blocked > 0 ? 1 : 0;
        }
        finally
        {
            foreach (var process in processes)
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }

                process.Dispose();
            }
        }
    }

    /// <summary>
    /// What the indexes no query needs cost the write: pgbench of the API's transaction (-M prepared, the trigger
    /// deferred as for the API) with every index, without the two that no statement of Hermes reads
    /// (<c>n8n_success</c>, <c>brevo_contact_id</c>), and without <c>status</c> too (read by the console's per-status
    /// count); interleaved, <c>--rounds</c> rounds, at the first <c>--concurrency</c>.
    /// </summary>
    private static async Task<int> IndexCostAsync(BenchOptions options, LocalPostgresCluster cluster, NpgsqlDataSource dataSource, string work)
    {
        var at = options with { Concurrency = options.Concurrencies[0] };
        var client = new PgbenchClient("pgbench -M prepared (same transaction)", "prepared", Path.Combine(options.Repo, "bench", "api", "two-row-insert.sql"), 1);
        (string Name, string[] Dropped)[] variants =
        [
            ("every index (as migrated)", []),
            ("without n8n_success and brevo_contact_id", ["idx_hermes_leads_n8n_success", "idx_hermes_leads_brevo_id"]),
            ("without those and status", ["idx_hermes_leads_n8n_success", "idx_hermes_leads_brevo_id", "idx_hermes_leads_status"]),
        ];
        var definitions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var index in variants.SelectMany(static v => v.Dropped).Distinct())
        {
            definitions[index] = await ScalarAsync<string>(dataSource, $"SELECT pg_get_indexdef('{index}'::regclass)");
        }

        static string Recreate(string definition) => definition.Replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", StringComparison.Ordinal);
        var rates = variants.Select(static _ => new List<(double Tps, double PgMs)>()).ToArray();
        await RunPgbenchAsync(at, client, cluster, work, at.Warmup);
        for (var round = 0; round < at.Rounds; round++)
        {
            foreach (var v in round % 2 == 0 ? [0, 1, 2] : new[] { 2, 1, 0 })
            {
                await ExecuteAsync(dataSource, "TRUNCATE hermes_delivery_attempts, hermes_outbox, hermes_leads");
                foreach (var (index, definition) in definitions)
                {
                    await ExecuteAsync(dataSource, variants[v].Dropped.Contains(index) ? $"DROP INDEX IF EXISTS {index}" : Recreate(definition));
                }

                await ExecuteAsync(dataSource, "CHECKPOINT");
                var cpuBefore = CpuSample.Take(Environment.ProcessId, cluster.DataDirectory);
                var result = await RunPgbenchAsync(at, client, cluster, work, at.Duration);
                var cpu = CpuSample.Take(Environment.ProcessId, cluster.DataDirectory) - cpuBefore;
                rates[v].Add((result.PerSecond, 1000 * cpu.Postgres / Math.Max(1, result.Count)));
            }
        }

        foreach (var definition in definitions.Values)
        {
            await ExecuteAsync(dataSource, Recreate(definition));
        }

        Console.WriteLine();
        Console.WriteLine($"Index cost at {at.Concurrency} connections, {at.Duration} s per run, {at.Rounds} rounds interleaved");
        Console.WriteLine("| indexes on hermes_leads | leads/s (runs) | PostgreSQL CPU ms per lead (runs) |");
        Console.WriteLine("|---|---|---|");
        for (var v = 0; v < variants.Length; v++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {variants[v].Name} | {rates[v].Average(static r => r.Tps):F0} ({string.Join(", ", rates[v].Select(static r => r.Tps.ToString("F0", CultureInfo.InvariantCulture)))}) | {rates[v].Average(static r => r.PgMs):F2} ({string.Join(", ", rates[v].Select(static r => r.PgMs.ToString("F2", CultureInfo.InvariantCulture)))}) |"));
        }

        return 0;
    }

    // Threads the runtime added for blocked ones (both reasons), and the transactions the submissions were committed in
    // (the count of the group-commit histogram).
    private const string BlockedInjectionsMetric = "hermes_runtime_thread_pool_blocked_injections_total";
    private const string CommitBatchCount = "hermes_leads_commit_batch_count";

    /// <summary>Leads stored so far by <paramref name="client"/>: the anchor's own table for the anchor, Hermes' for the rest.</summary>
    private static Task<long> StoredAsync(NpgsqlDataSource dataSource, PgbenchClient? client) =>
        ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {client?.OutboxTable ?? "hermes_outbox"}");

    /// <summary>two-row-insert.sql's lead and outbox row <paramref name="leads"/> times in one transaction: what group commit would send.</summary>
    private static string GroupScript(string repo, string work, int leads)
    {
        var single = File.ReadAllText(Path.Combine(repo, "bench", "api", "two-row-insert.sql"));
        var body = single[(single.IndexOf("BEGIN;", StringComparison.Ordinal) + "BEGIN;".Length)..single.LastIndexOf("COMMIT;", StringComparison.Ordinal)];
        var path = Path.Combine(work, $"group-{leads}.sql");
        File.WriteAllText(path, "BEGIN;" + string.Concat(Enumerable.Repeat(body, leads)) + "COMMIT;\n");
        return path;
    }

    private static Process StartApi(BenchOptions options, string connectionString, int port, string work, string logName, IReadOnlyDictionary<string, string> environment)
    {
        // --api: a published executable (bench/api/run.sh --published-api), run by itself; otherwise the Release build under dotnet.
        var dll = options.Api ?? Path.Combine(options.Repo, "Hermes.Api", "bin", "Release", "net10.0", "Hermes.Api.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: run `dotnet build Hermes.Api -c Release` first (bench/api/run.sh does).");
        }

        var start = new ProcessStartInfo(options.Api ?? "dotnet", options.Api is null ? [dll, "--urls", $"http://127.0.0.1:{port}"] : ["--urls", $"http://127.0.0.1:{port}"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["DATABASE_URL"] = "";
        start.Environment["ConnectionStrings__Hermes"] = connectionString;
        // One client address sends everything here: lift the per-address limit (the limiter still runs).
        start.Environment["Intake__RateLimit__PermitLimit"] = "1000000000";
        // Production's own choice would be Information; a line per lead on the console is part of what is measured
        // unless the run says otherwise.
        start.Environment["Logging__LogLevel__Default"] = options.LogLevel;
        start.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the API.");
        var log = new StreamWriter(Path.Combine(work, logName)) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitForApiAsync(int port, Process api)
    {
        using var client = new HttpClient();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (api.HasExited)
            {
                throw new InvalidOperationException($"The API exited with code {api.ExitCode}; see its log in bench/out/api.");
            }

            try
            {
                using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/openapi/v1.json"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("The API did not start within 60 s.");
    }

    private static async Task<PhaseResult> RunWrkAsync(BenchOptions options, ApiClient api, int seconds)
    {
        var script = Path.Combine(options.Repo, "bench", "api", "lead.lua");
        // Two threads, as many as the cores, but never more than connections (wrk refuses -t2 -c1).
        var output = await RunAsync("wrk", ["-t", Str(Math.Min(2, options.Concurrency)), "-c", Str(options.Concurrency), "-d", $"{seconds}s", "--latency", "--timeout", "10s", "-s", script, $"http://127.0.0.1:{api.Port}/api/leads"]);
        var count = long.Parse(WrkRequests().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var rate = double.Parse(WrkRate().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = WrkNon2xx().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        errors += WrkSocketErrors().Matches(output).Sum(static e => long.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture));
        return new PhaseResult(api.Name, rate, WrkPercentile(output, "50"), WrkPercentile(output, "99"), count, errors);
    }

    private static double WrkPercentile(string output, string percentile)
    {
        var match = Regex.Match(output, $@"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    private static async Task<PhaseResult> RunPgbenchAsync(BenchOptions options, PgbenchClient client, LocalPostgresCluster cluster, string work, int seconds)
    {
        var logs = Path.Combine(work, "pgbench-logs");
        if (Directory.Exists(logs))
        {
            Directory.Delete(logs, recursive: true);
        }

        Directory.CreateDirectory(logs);
        var pgbench = Path.Combine(LocalPostgresCluster.FindBinDirectory()!, "pgbench");
        // The API's transactions defer the insert trigger's NOTIFY and send one per burst (OutboxNotifier): pgbench's the
        // same, set for its sessions (the API sets it per transaction, OutboxNotifier.DeferInThisTransactionSql, in the
        // round trip of its inserts: no extra round trip to count).
        var output = await RunAsync(pgbench,
            ["-h", "127.0.0.1", "-p", Str(cluster.Port), "-U", LocalPostgresCluster.Superuser, "-n", "-M", client.Mode,
             "-c", Str(options.Concurrency), "-j", Str(Math.Min(2, options.Concurrency)), "-T", Str(seconds), "-f", client.Script, "-l", "--log-prefix", Path.Combine(logs, "tx"), "hermes"],
            workingDirectory: logs, environment: new Dictionary<string, string> { ["PGOPTIONS"] = $"-c {OutboxNotifier.Setting}={OutboxNotifier.Deferred}" });
        var rate = double.Parse(PgbenchTps().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var failed = PgbenchFailed().Match(output) is { Success: true } f ? long.Parse(f.Groups[1].Value, CultureInfo.InvariantCulture) : 0;

        // Per-transaction log lines: client_id transaction_no latency_us script_no epoch_s epoch_us.
        var latencies = Directory.GetFiles(logs)
            .SelectMany(File.ReadLines)
            .Select(static line => line.Split(' '))
            .Where(static fields => fields.Length >= 3)
            .Select(static fields => double.Parse(fields[2], CultureInfo.InvariantCulture) / 1000)
            .Order()
            .ToArray();
        return new PhaseResult(client.Name, rate * client.LeadsPerTransaction, Percentile(latencies, 0.50), Percentile(latencies, 0.99), latencies.Length, failed);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file, args)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout + await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} failed ({process.ExitCode}):\n{output}");
        }

        return output;
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex WrkRequests();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex WrkRate();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex WrkNon2xx();

    [GeneratedRegex(@"(?:connect|read|write|timeout) (\d+)")]
    private static partial Regex WrkSocketErrors();

    [GeneratedRegex(@"tps = ([\d.]+) \(without initial connection time\)")]
    private static partial Regex PgbenchTps();

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex PgbenchFailed();
}

/// <summary>A pgbench baseline: its name in the table, protocol, script, and the leads each of its transactions stores.</summary>
internal sealed record PgbenchClient(string Name, string Mode, string Script, int LeadsPerTransaction, string OutboxTable = "hermes_outbox");

/// <summary>One measured phase.</summary>
/// <summary>An API process under test: its phases' name, its port, what its environment adds.</summary>
internal sealed record ApiClient(string Name, int Port, IReadOnlyDictionary<string, string> Environment);

internal sealed record PhaseResult(string Name, double PerSecond, double P50Ms, double P99Ms, long Count, long Errors)
{
    public int Round { get; init; }

    public int Concurrency { get; init; }

    /// <summary>How long the phase measured, in seconds.</summary>
    public int Seconds { get; init; }

    public long BlockedInjections { get; init; }

    /// <summary>For the API: the transactions its leads were committed in (group commit), from its own histogram.</summary>
    public long Transactions { get; init; }

    public long RowsStored { get; init; }

    /// <summary>For the API: what its own metrics saw during the phase.</summary>
    public ApiView? Inside { get; init; }

    public CpuSample Cpu { get; init; } = new(0, 0, 0);
}

internal sealed record BenchOptions(string Repo, IReadOnlyList<int> Concurrencies, int Duration, int Warmup, int Rounds, string LogLevel, string NpgsqlOptions, IReadOnlyList<string> PgbenchModes, IReadOnlyList<int> Groups, bool Anchor, bool IndexCost, bool CompareSingle, IReadOnlyDictionary<string, string> ApiEnvironment)
{
    public int Concurrency { get; init; }

    /// <summary>The API executable to measure (<c>--api</c>), or null for the framework-dependent Release build.</summary>
    public string? Api { get; init; }

    /// <summary>More API processes to measure in turn, each with its settings (<c>--variant KEY=VALUE[;KEY=VALUE]</c>, repeatable).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>> Variants { get; init; } = [];

    public static BenchOptions Parse(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        // Every value of a flag that may be given more than once.
        IEnumerable<string> Values(string name) => args.Select((a, i) => (a, i)).Where(p => p.a == name && p.i + 1 < args.Length).Select(p => args[p.i + 1]);
        static Dictionary<string, string> Settings(IEnumerable<string> settings) => settings
            .Select(static setting => setting.Split('=', 2))
            .ToDictionary(static kv => kv[0], static kv => kv.Length > 1 ? kv[1] : "", StringComparer.Ordinal);
        int Number(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var repo = Value("--repo") ?? throw new ArgumentException("--repo DIR is required.");
        IReadOnlyList<int> Numbers(string name, string fallback) => (Value(name) ?? fallback)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(static v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return new BenchOptions(Path.GetFullPath(repo), Numbers("--concurrency", "16"), Number("--duration", 20), Number("--warmup", 20), Number("--rounds", 2),
            Value("--log-level") ?? "Information", Value("--npgsql") ?? "",
            (Value("--pgbench-mode") ?? "extended,prepared").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Numbers("--group", ""), !args.Contains("--no-anchor"), args.Contains("--index-cost"), args.Contains("--compare-single"),
            Settings(Values("--api-env")))
        {
            Api = Value("--api") is { } api ? Path.GetFullPath(api) : null,
            Variants = [.. Values("--variant").Select(static v => Settings(v.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))],
        };
    }
}
