using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Hermes.Bench.Worker;
using Hermes.Tests.Infrastructure;

// Usage: Hermes.Bench.Report --api <Hermes.Api.dll> --worker <Hermes.Outbox.Worker.dll> [--backlog 100000] [--concurrency N] [--batch N] [--starts 5] [--load-seconds 20] [--env "KEY=VALUE;..."] [--drop-indexes "a,b"] [--smaps N] --hermes <hermes.dll>
var options = Args.Parse(args);
var apiDll = Path.GetFullPath(options.Get("api", ""));
var workerDll = Path.GetFullPath(options.Get("worker", ""));
// --hermes: the operator CLI, whose seed verb fills the backlog, whichever build of the dispatcher is measured.
var seedDll = Path.GetFullPath(options.Get("hermes", ""));
if (!File.Exists(apiDll) || !File.Exists(workerDll) || !File.Exists(seedDll))
{
    Console.Error.WriteLine("Usage: Hermes.Bench.Report --api <Hermes.Api.dll> --worker <Hermes.Outbox.Worker.dll> --hermes <hermes.dll> [--backlog N] [--concurrency N] [--batch N] [--starts N] [--load-seconds N]");
    return 2;
}

var backlog = int.Parse(options.Get("backlog", "100000"), CultureInfo.InvariantCulture);
// --concurrency, --batch: Outbox:Concurrency and Outbox:BatchSize; unset, the worker's own defaults (what ships).
var concurrency = options.Get("concurrency", "");
var batch = options.Get("batch", "");
var starts = int.Parse(options.Get("starts", "5"), CultureInfo.InvariantCulture);
var loadSeconds = int.Parse(options.Get("load-seconds", "20"), CultureInfo.InvariantCulture);
// --env "KEY=VALUE;KEY=VALUE": settings added to both hosts' environments (e.g. DOTNET_GCgen0size=0x400000).
var extraEnvironment = options.Get("env", "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
    .Select(static kv => kv.Split('=', 2)).ToDictionary(static kv => kv[0], static kv => kv.Length > 1 ? kv[1] : "", StringComparer.Ordinal);
Host.ExtraEnvironment = extraEnvironment;
// --drop-indexes "a,b": indexes on Hermes' tables dropped before the backlog is seeded (what an index costs the drain).
var dropIndexes = options.Get("drop-indexes", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
// --smaps N: the N largest resident mappings (from /proc/<pid>/smaps, summed by file) at each host's peak sample.
var smapsTop = int.Parse(options.Get("smaps", "0"), CultureInfo.InvariantCulture);

await using var bench = await BenchEnvironment.StartAsync(workerDll);
Console.WriteLine(bench.Describe());
var connectionString = bench.Cluster.ConnectionString(BenchEnvironment.DatabaseName);

// 1. Start-up: process start to ready, on an idle database. API: first 201 to POST /api/leads (it has no health
//    endpoint). Worker: first HTTP answer on its port (its host is up: dispatcher and listener are started with it).
var apiStarts = new List<double>();
var workerStarts = new List<double>();
for (var i = 0; i < starts; i++)
{
    await using (var api = Host.Start(apiDll, [], Host.ApiEnvironment(connectionString)))
    {
        apiStarts.Add(await api.WaitReadyAsync(static (http, uri) => Host.SubmitAsync(http, uri, 0)));
    }

    await using (var worker = Host.Start(workerDll, [], Host.WorkerEnvironment(connectionString, bench.ReceiverUrl, concurrency, batch)))
    {
        workerStarts.Add(await worker.WaitReadyAsync(static async (http, uri) => { using var r = await http.GetAsync(uri); return true; }));
    }
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"start-up to ready ({starts} starts each, median / max): API {Median(apiStarts):F0} / {apiStarts.Max():F0} ms (first 201 to POST /api/leads); worker {Median(workerStarts):F0} / {workerStarts.Max():F0} ms (first HTTP answer on its port)"));
await bench.ResetAsync();

// 2. API memory at steady load: 8 clients submitting for the given time.
await using (var api = Host.Start(apiDll, [], Host.ApiEnvironment(connectionString)))
{
    await api.WaitReadyAsync(static (http, uri) => Host.SubmitAsync(http, uri, 0));
    var idle = api.Memory();
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(loadSeconds));
    var submitted = 0;
    var clients = Enumerable.Range(0, 8).Select(async lane =>
    {
        using var http = new HttpClient();
        var n = 0;
        while (!stop.IsCancellationRequested)
        {
            await Host.SubmitAsync(http, api.Address!, lane * 10_000_000 + ++n);
            Interlocked.Increment(ref submitted);
        }
    }).ToList();
    while (!stop.IsCancellationRequested)
    {
        await Task.Delay(500);
        api.Sample(withMappings: smapsTop > 0);
    }

    await Task.WhenAll(clients);
    var end = api.Memory();
    var peak = api.Peak;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"API memory: idle VmRSS {idle.Rss / 1024} MiB; under 8 clients for {loadSeconds} s ({submitted / (double)loadSeconds:F0} submissions/s) VmRSS peak sample {peak.Rss / 1024} MiB ({peak.Parts}), VmHWM {end.Hwm / 1024} MiB"));
    api.PrintPeakMappings("API", smapsTop);
}

await bench.ResetAsync();

// 3. Backlog drain: the rows an n8n outage leaves behind, seeded as the API writes them, then one worker.
foreach (var index in dropIndexes)
{
    // The names are the operator's own command line; this is a benchmark against a throwaway cluster.
    await bench.ExecuteAsync($"DROP INDEX IF EXISTS \"{index.Replace("\"", "", StringComparison.Ordinal)}\"");
}

if (dropIndexes.Length > 0)
{
    Console.WriteLine($"dropped before seeding: {string.Join(", ", dropIndexes)}");
}

await bench.ExecuteAsync("SELECT pg_stat_reset()");
var seed = Stopwatch.StartNew();
await Host.RunAsync(seedDll, ["seed", "--yes", "--count", backlog.ToString(CultureInfo.InvariantCulture)], Host.WorkerEnvironment(connectionString, bench.ReceiverUrl, concurrency, batch));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seeded {backlog} pending rows in {seed.Elapsed.TotalSeconds:F1} s"));
// What the database did besides the drain, which moves its rate from run to run: checkpoints (each followed by full-page
// writes), autovacuum and autoanalyze of the two tables, and the WAL written.
const string Housekeeping = """
    SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
           (SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'hermes_leads'),
           (SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'hermes_outbox'),
           (SELECT sum(autoanalyze_count) FROM pg_stat_user_tables WHERE relname IN ('hermes_leads', 'hermes_outbox')),
           pg_current_wal_lsn() - '0/0'
    """;
var housekeepingBefore = await bench.RowAsync(Housekeeping);
// CPU time per 1,000 rows, as bench/worker gives it: the same drain costs about twice as much CPU in a slow hour of this
// machine as in a fast one, and its rate follows; this says which hour a figure was measured in.
var (postgresCpuBefore, receiverCpuBefore) = (bench.PostgresCpuTime(), BenchEnvironment.OwnCpuTime());
await using (var worker = Host.Start(workerDll, [], Host.WorkerEnvironment(connectionString, bench.ReceiverUrl, concurrency, batch)))
{
    var clock = Stopwatch.StartNew();
    var idle = 0L;
    var firstAt = 0.0;
    long delivered = 0;
    var samples = new List<(double T, long N)>();
    while (clock.Elapsed < TimeSpan.FromMinutes(30))
    {
        await Task.Delay(250);
        var memory = worker.Sample(withMappings: smapsTop > 0);
        idle = idle == 0 ? memory.Rss : idle;
        delivered = bench.Received.Count;
        if (delivered > 0 && firstAt == 0)
        {
            firstAt = clock.Elapsed.TotalSeconds;
        }

        samples.Add((clock.Elapsed.TotalSeconds, delivered));

        // The receiver's count first (free), the database's only once every row has arrived: counting a backlog of
        // 250,000 unvacuumed pending rows four times a second reads each row's heap tuple and cost the drain a fifth of
        // its rate (3,815 rows/s with the count against 4,790 without it, the same command in turn).
        if (delivered >= backlog && await bench.ScalarAsync("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'") == 0)
        {
            break;
        }
    }

    var total = clock.Elapsed.TotalSeconds;
    var perThousand = 1000.0 / Math.Max(1, delivered);
    var cpuUsed = (Worker: worker.CpuTime, Postgres: bench.PostgresCpuTime() - postgresCpuBefore, Receiver: BenchEnvironment.OwnCpuTime() - receiverCpuBefore);
    var end = worker.Memory();
    var peak = worker.Peak;
    var steady = samples.Where(s => s.N >= delivered * 0.1 && s.N <= delivered * 0.9).ToList();
    var steadyRate = steady.Count >= 2 ? (steady[^1].N - steady[0].N) / (steady[^1].T - steady[0].T) : double.NaN;
    var stored = await bench.ScalarAsync("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"backlog drain: {stored} of {backlog} rows delivered by one worker (Outbox:Concurrency {(concurrency.Length > 0 ? concurrency : "default")}, Outbox:BatchSize {(batch.Length > 0 ? batch : "default")}) in {total:F1} s from process start = {stored / total:F0} rows/s overall, {steadyRate:F0} rows/s between 10 % and 90 %; first delivery {firstAt:F1} s after start; duplicates at the receiver {bench.Duplicates}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"CPU time per 1,000 rows: worker {cpuUsed.Worker.TotalMilliseconds * perThousand:F0} ms, PostgreSQL {cpuUsed.Postgres.TotalMilliseconds * perThousand:F0} ms (its live processes), receiver and this harness {cpuUsed.Receiver.TotalMilliseconds * perThousand:F0} ms"));
    var housekeeping = (await bench.RowAsync(Housekeeping)).Zip(housekeepingBefore, static (after, before) => after - before).ToList();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"during the drain: {housekeeping[0]} checkpoint(s), autovacuum of hermes_leads {housekeeping[1]} and of hermes_outbox {housekeeping[2]} time(s), {housekeeping[3]} autoanalyze(s), {housekeeping[4] / (1 << 20)} MiB of WAL ({housekeeping[4] / Math.Max(1, stored)} bytes per row)"));
    var updates = await bench.ScalarAsync("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'hermes_leads'");
    var hot = await bench.ScalarAsync("SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'hermes_leads'");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"hermes_leads updates during the drain: {updates}, of which HOT (no index touched): {hot} ({(updates == 0 ? 0 : 100.0 * hot / updates):F0} %)"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"worker memory: VmRSS {idle / 1024} MiB at the first sample, peak sample {peak.Rss / 1024} MiB ({peak.Parts}) while draining, VmHWM {end.Hwm / 1024} MiB"));
    worker.PrintPeakMappings("worker", smapsTop);
}

return 0;

static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

/// <summary>--name value pairs.</summary>
internal sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        return new Args(values);
    }

    public string Get(string name, string fallback) => values.TryGetValue(name, out var v) ? v : fallback;
}

/// <summary>One look at a process's memory, KiB.</summary>
internal readonly record struct MemorySample(long Rss, long Hwm, long Anonymous, long File, long Shared)
{
    public string Parts => string.Create(CultureInfo.InvariantCulture, $"{Anonymous / 1024} anonymous + {File / 1024} file-backed + {Shared / 1024} shared MiB");
}

/// <summary>A Hermes host as a child process on a port chosen here, killed on dispose.</summary>
internal sealed class Host(Process process, Uri address, Stopwatch clock) : IAsyncDisposable
{
    public Uri? Address => address;

    /// <summary>The host process's CPU time so far (user and system).</summary>
    public TimeSpan CpuTime => BenchEnvironment.CpuTimeOf(process);

    public static Dictionary<string, string> ApiEnvironment(string connectionString) => new()
    {
        ["ConnectionStrings__Hermes"] = connectionString,
        ["Intake__RateLimit__PermitLimit"] = "100000000",
        ["Logging__LogLevel__Default"] = "Information", // the level the hosts ship with: measured as they run
    };

    public static Dictionary<string, string> WorkerEnvironment(string connectionString, Uri receiver, string concurrency, string batch)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Hermes"] = connectionString,
            ["N8N_WEBHOOK_URL"] = receiver.ToString(),
            ["HERMES_WEBHOOK_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ["Logging__LogLevel__Default"] = "Information",
            ["DOTNET_ENVIRONMENT"] = "Staging",
            ["ASPNETCORE_ENVIRONMENT"] = "Staging",
        };
        if (concurrency.Length > 0)
        {
            environment["Outbox__Concurrency"] = concurrency;
        }

        if (batch.Length > 0)
        {
            environment["Outbox__BatchSize"] = batch;
        }

        return environment;
    }

    /// <summary>Added to every host's environment (the run's <c>--env</c>).</summary>
    public static IReadOnlyDictionary<string, string> ExtraEnvironment { get; set; } = new Dictionary<string, string>();

    public static Host Start(string dll, string[] args, Dictionary<string, string> environment)
    {
        foreach (var (key, value) in ExtraEnvironment)
        {
            environment[key] = value;
        }

        var port = FreePort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var start = Info(dll, [.. args, "--urls", address.ToString()], environment);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var clock = Stopwatch.StartNew();
        var process = Process.Start(start)!;
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, e) => { if (e.Data is not null) Console.Error.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Host(process, address, clock);
    }

    public static async Task RunAsync(string dll, string[] args, Dictionary<string, string> environment)
    {
        using var process = Process.Start(Info(dll, args, environment))!;
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(dll)} {string.Join(' ', args)} exited {process.ExitCode}");
        }
    }

    public static async Task<bool> SubmitAsync(HttpClient http, Uri api, int n)
    {
        using var response = await http.PostAsJsonAsync(new Uri(api, "/api/leads"), TestData.ValidForm($"bench{n}.{Guid.NewGuid():N}@example.com"));
        return response.StatusCode == HttpStatusCode.Created;
    }

    /// <summary>Milliseconds from process start until <paramref name="probe"/> succeeds.</summary>
    public async Task<double> WaitReadyAsync(Func<HttpClient, Uri, Task<bool>> probe)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException("The host exited with " + process.ExitCode);
            }

            try
            {
                if (await probe(http, address))
                {
                    return clock.Elapsed.TotalMilliseconds;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(10);
        }

        throw new TimeoutException("The host was not ready within 2 minutes.");
    }

    /// <summary>VmRSS, VmHWM and VmRSS's parts (anonymous, file-backed, shared memory) in KiB, from /proc/pid/status.</summary>
    public MemorySample Memory()
    {
        var lines = File.ReadAllLines($"/proc/{process.Id}/status");
        long Read(string key) => lines
            .Where(l => l.StartsWith(key + ":", StringComparison.Ordinal))
            .Select(static l => long.Parse(l.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture)).FirstOrDefault();
        return new(Read("VmRSS"), Read("VmHWM"), Read("RssAnon"), Read("RssFile"), Read("RssShmem"));
    }

    /// <summary>The largest of the samples taken with <see cref="Sample"/>.</summary>
    public MemorySample Peak { get; private set; }

    /// <summary>The mappings at <see cref="Peak"/>, when its sample asked for them.</summary>
    private List<(string Name, long Rss)> peakMappings = [];

    /// <summary>One <see cref="Memory"/> sample, kept as <see cref="Peak"/> (with its mappings if asked) when it is the largest yet.</summary>
    public MemorySample Sample(bool withMappings)
    {
        var sample = Memory();
        if (sample.Rss > Peak.Rss)
        {
            Peak = sample;
            peakMappings = withMappings ? Mappings() : peakMappings;
        }

        return sample;
    }

    /// <summary>Resident KiB by mapping, from /proc/pid/smaps: files by name, anonymous ones by their bracketed name or "[anonymous]".</summary>
    private List<(string Name, long Rss)> Mappings()
    {
        var sums = new Dictionary<string, long>(StringComparer.Ordinal);
        var name = "[anonymous]";
        foreach (var line in File.ReadLines($"/proc/{process.Id}/smaps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                // A mapping's header: "start-end perms offset dev inode [path]".
                var path = fields.Length == 6 ? fields[5].Trim() : "";
                name = path.Length == 0 ? "[anonymous]" : Path.GetFileName(path) is { Length: > 0 } file ? file : path;
            }
            else if (line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                sums[name] = sums.GetValueOrDefault(name) + long.Parse(fields[1], CultureInfo.InvariantCulture);
            }
        }

        return [.. sums.Select(static kv => (kv.Key, kv.Value)).OrderByDescending(static m => m.Value)];
    }

    public void PrintPeakMappings(string host, int top)
    {
        if (top > 0)
        {
            Console.WriteLine($"{host} at its peak sample, largest resident mappings (KiB): " + string.Join(", ",
                peakMappings.Take(top).Select(static m => string.Create(CultureInfo.InvariantCulture, $"{m.Name} {m.Rss}"))));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private static ProcessStartInfo Info(string dll, string[] args, Dictionary<string, string> environment)
    {
        // A framework-dependent build runs under dotnet; a published executable (self-contained, trimmed or AOT) by itself.
        var isAssembly = dll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var start = new ProcessStartInfo(isAssembly ? "dotnet" : dll) { UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(dll)! };
        if (isAssembly)
        {
            start.ArgumentList.Add(dll);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var key in new[] { "DATABASE_URL", "ASPNETCORE_URLS" })
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
