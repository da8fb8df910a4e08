using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Hermes.Persistence.Operations;
using Npgsql;

// Console page times with many leads: seed, shape, start the admin host as its own process, sign in, time each page.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Hermes.Bench.Console <Hermes.Admin.dll> [leads] [requests per page] [bound in ms]");
    return 2;
}

var apiDll = Path.GetFullPath(args[0]);
var leads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
var requests = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 200;
// The bound the slowest page's p95 is held to (the issue's 100 ms); BenchSmokeTests, which checks only that the bench
// runs, lifts it: five requests on a loaded test machine say nothing about speed.
var bound = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 100;
const string Key = "bench-console-key-0123456789abcdef";

await using var cluster = await LocalPostgresCluster.StartAsync(new LocalPostgresOptions { Durable = true, StopWithProcessId = Environment.ProcessId }, CancellationToken.None);
await cluster.CreateDatabaseAsync("hermes_console_bench");
var connectionString = cluster.ConnectionString("hermes_console_bench");
await using var dataSource = NpgsqlDataSource.Create(connectionString);
await using (var context = PersistenceExtensions.CreateContext(dataSource))
{
    await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
}

var clock = Stopwatch.StartNew();
await new LeadSeeder(dataSource).SeedAsync(leads, CancellationToken.None, randomSeed: 42);
Console.WriteLine($"seeded {leads:N0} leads with their outbox rows in {clock.Elapsed.TotalSeconds:F0} s");

// A month of leads; 94 % delivered (within the last day for the newest), 5 % failed after 12 attempts, 1 % pending;
// an attempt log row per delivery and three per failure.
clock.Restart();
foreach (var sql in new[]
{
    "UPDATE hermes_leads SET created_at = now() - (@n - id) * (interval '30 days' / @n)",
    // The attempt log keeps a partition per UTC day (PartitionedAttemptLog): the month's days get theirs first.
    "SELECT hermes_attempt_partitions_ensure((now() AT TIME ZONE 'UTC')::date - 31, 31), hermes_attempt_partitions_ensure((now() AT TIME ZONE 'UTC')::date, 2)",
    "UPDATE hermes_outbox o SET created_at = l.created_at, available_at = l.created_at FROM hermes_leads l WHERE l.id = o.lead_id",
    """
    UPDATE hermes_outbox SET status = 'delivered', attempts = 1, delivered_at = least(now(), created_at + interval '2 seconds') - (id % 7) * interval '1 second'
    WHERE id % 100 >= 6
    """,
    "UPDATE hermes_outbox SET status = 'failed', attempts = 12, last_status_code = 500, last_error = 'HTTP 500: n8n answered an error' WHERE id % 100 BETWEEN 1 AND 5",
    """
    UPDATE hermes_leads l SET status = CASE o.status WHEN 'delivered' THEN 'forwarded' WHEN 'failed' THEN 'delivery_failed' ELSE 'queued' END,
        n8n_success = o.status = 'delivered', brevo_contact_id = CASE WHEN o.status = 'delivered' THEN (1000 + l.id)::text END
    FROM hermes_outbox o WHERE o.lead_id = l.id
    """,
    """
    INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, response_excerpt, worker_id)
    SELECT id, lead_id, 1, delivered_at - interval '40 milliseconds', 40, 200, 'delivered', '{"brevoContactId": ' || (1000 + lead_id) || '}', 'bench-worker'
    FROM hermes_outbox WHERE status = 'delivered'
    """,
    """
    INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, error, worker_id)
    SELECT o.id, o.lead_id, g, o.created_at + g * interval '1 minute', 120, 500, CASE WHEN g = 3 THEN 'failed' ELSE 'retry' END, 'HTTP 500: n8n answered an error', 'bench-worker'
    FROM hermes_outbox o CROSS JOIN generate_series(1, 3) g WHERE o.status = 'failed'
    """,
    "VACUUM ANALYZE hermes_leads",
    "VACUUM ANALYZE hermes_outbox",
    "VACUUM ANALYZE hermes_delivery_attempts",
})
{
    await using var command = dataSource.CreateCommand(sql);
    command.Parameters.Add(new NpgsqlParameter<int>("n", leads));
    command.CommandTimeout = 600;
    await command.ExecuteNonQueryAsync();
}

Console.WriteLine($"shaped statuses and attempt logs in {clock.Elapsed.TotalSeconds:F0} s");
async Task<string> OneAsync(string sql)
{
    await using var command = dataSource.CreateCommand(sql);
    return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture)!;
}

var counts = await OneAsync("SELECT format('%s leads, %s outbox rows (%s failed), %s attempt rows', (SELECT count(*) FROM hermes_leads), (SELECT count(*) FROM hermes_outbox), (SELECT count(*) FROM hermes_outbox WHERE status = 'failed'), (SELECT count(*) FROM hermes_delivery_attempts))");
var email = await OneAsync("SELECT upper(email) FROM hermes_leads WHERE id = 77777 % (SELECT max(id) FROM hermes_leads)");
var failedLead = await OneAsync("SELECT l.lead_id FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id WHERE o.status = 'failed' ORDER BY l.id LIMIT 1");
var midCursor = await OneAsync("SELECT (max(id) / 2)::text FROM hermes_leads");

// The plans of the statements behind the heaviest pages, with their execution times (EXPLAIN ANALYZE runs them).
var plans = new System.Text.StringBuilder();
foreach (var (name, sql) in new[]
{
    ("OutboxStatistics", Constant(typeof(OutboxStatistics), "Sql")),
    ("DeliveryActivity leads per status", Constant(typeof(DeliveryActivity), "LeadsByStatusSql")),
    ("DeliveryActivity hours", Constant(typeof(DeliveryActivity), "HoursSql")),
    ("DeliveryActivity health", Constant(typeof(DeliveryActivity), "HealthSql")),
    ("OutboxReplay dry run, all failed", OutboxReplay.DryRunSql),
})
{
    await using var command = dataSource.CreateCommand("EXPLAIN (ANALYZE, BUFFERS) " + sql);
    command.Parameters.Add(new NpgsqlParameter("status", NpgsqlTypes.NpgsqlDbType.Varchar) { Value = "failed" });
    command.Parameters.Add(new NpgsqlParameter("lead_ids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Varchar) { Value = Array.Empty<string>() });
    command.Parameters.Add(new NpgsqlParameter("since", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = DBNull.Value });
    command.Parameters.Add(new NpgsqlParameter("until", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = DBNull.Value });
    plans.AppendLine("== " + name);
    await using var reader = await command.ExecuteReaderAsync();
    var last = "";
    while (await reader.ReadAsync())
    {
        last = reader.GetString(0);
        plans.AppendLine(last);
    }

    Console.WriteLine($"plan: {name}: {last.Trim()}");
}

Directory.CreateDirectory("bench/out/console");
await File.WriteAllTextAsync("bench/out/console/plans.txt", plans.ToString());

// The API as in production: its own process, Release build, Production, default logging.
var port = FreePort();
var api = new ProcessStartInfo("dotnet", [apiDll, "--urls", $"http://127.0.0.1:{port}"])
{
    RedirectStandardOutput = true,
    RedirectStandardError = true,
    WorkingDirectory = Path.GetDirectoryName(apiDll)!,
};
api.Environment["ConnectionStrings__Hermes"] = connectionString;
api.Environment["DATABASE_URL"] = "";
api.Environment["HERMES_ADMIN_API_KEY"] = Key;
api.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
api.Environment["DOTNET_TieredPGO"] = "0";
using var process = Process.Start(api)!;
process.OutputDataReceived += static (_, _) => { };
process.ErrorDataReceived += static (_, e) => { if (e.Data is not null) { Console.Error.WriteLine("api: " + e.Data); } };
process.BeginOutputReadLine();
process.BeginErrorReadLine();
try
{
    using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    for (var i = 0; ; i++)
    {
        try
        {
            using var ready = await http.GetAsync("/health/ready");
            if (ready.IsSuccessStatusCode)
            {
                break;
            }
        }
        catch (HttpRequestException) when (i < 300)
        {
            // Not listening yet.
        }

        await Task.Delay(100);
    }

    var cookie = await SignInAsync(http, Key);
    var since = DateTimeOffset.UtcNow.AddDays(-2).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
    var until = DateTimeOffset.UtcNow.AddDays(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
    string[] pages =
    [
        "/console",
        "/console/leads",
        $"/console/leads?email={Uri.EscapeDataString(email)}",
        $"/console/leads?from={since}&to={until}",
        $"/console/leads?cursor={midCursor}",
        $"/console/leads/{failedLead}",
        "/console/deliveries",
        "/console/deliveries?status=all",
        "/console/deliveries?status=failed&since=7d",
        "/console/deliveries/replay?status=failed",
        $"/console/erase?email={Uri.EscapeDataString(email)}",
        "/console/sign-in",
    ];
    // The sign-in page is timed signed out (signed in, it redirects to the overview).

    Console.WriteLine();
    Console.WriteLine($"{counts}; {requests} requests per page after 20 unmeasured, one at a time");
    Console.WriteLine(Describe());
    Console.WriteLine();
    Console.WriteLine("| page | server p50 ms | server p95 ms | server max ms | client p50 ms | client p95 ms | status |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    var worst = 0.0;
    foreach (var page in pages)
    {
        var server = new List<double>(requests);
        var client = new List<double>(requests);
        var status = 0;
        for (var i = 0; i < requests + 20; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, page);
            if (page != "/console/sign-in")
            {
                request.Headers.Add("Cookie", cookie);
            }

            var started = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            status = (int)response.StatusCode;
            if (status != 200)
            {
                throw new InvalidOperationException($"{page} answered {status}");
            }

            if (i >= 20)
            {
                client.Add(elapsed);
                server.Add(ServerTime(response));
            }
        }

        server.Sort();
        client.Sort();
        worst = Math.Max(worst, P(server, 0.95));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| `{Shorten(page)}` | {P(server, 0.5):F1} | {P(server, 0.95):F1} | {server[^1]:F1} | {P(client, 0.5):F1} | {P(client, 0.95):F1} | {status} |"));
    }

    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"slowest page at p95: {worst:F1} ms server time (bound: {bound} ms)"));
    return worst < bound ? 0 : 1;
}
finally
{
    process.Kill(entireProcessTree: true);
    await process.WaitForExitAsync();
}

static string Constant(Type type, string name) =>
    (string)type.GetField(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)!.GetValue(null)!;

static double P(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

static double ServerTime(HttpResponseMessage response)
{
    var header = response.Headers.TryGetValues("Server-Timing", out var values) ? values.First() : throw new InvalidOperationException("No Server-Timing header.");
    return double.Parse(header.Split("dur=")[1], CultureInfo.InvariantCulture);
}

static string Shorten(string page) =>
    Regex.Replace(Regex.Replace(Regex.Replace(page, "(email=)[^&]+", "$1<an address>"), "lead_[a-z0-9]+", "<a failed lead>"), @"\d{4}-\d\d-\d\dT[\d:]+Z", "<time>");

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static string Describe()
{
    var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(static l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
    var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
    return $"machine: {Environment.ProcessorCount} cores ({cpu}), load average {string.Join(' ', load)}; PostgreSQL local cluster, fsync on";
}

static async Task<string> SignInAsync(HttpClient http, string key)
{
    using var page = await http.GetAsync("/console/sign-in");
    var token = Regex.Match(await page.Content.ReadAsStringAsync(), "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"").Groups[1].Value;
    var antiforgery = string.Join("; ", page.Headers.GetValues("Set-Cookie").Select(static c => c.Split(';')[0]));
    using var post = new HttpRequestMessage(HttpMethod.Post, "/console/sign-in")
    {
        Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = key, ["__RequestVerificationToken"] = token }),
    };
    post.Headers.Add("Cookie", antiforgery);
    using var answer = await http.SendAsync(post);
    if (answer.StatusCode != HttpStatusCode.Redirect)
    {
        throw new InvalidOperationException($"Sign-in answered {(int)answer.StatusCode}.");
    }

    return string.Join("; ", answer.Headers.GetValues("Set-Cookie").Select(static c => c.Split(';')[0]));
}
