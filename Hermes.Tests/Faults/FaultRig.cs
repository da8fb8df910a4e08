using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace Hermes.Tests.Faults;

/// <summary>What the loopback n8n does right now.</summary>
public enum ReceiverMode
{
    Ok,
    Fail500,
    Hang,
    Drop,
}

/// <summary>What the submitting clients saw.</summary>
public sealed class LoadResult
{
    public ConcurrentDictionary<int, string> Acknowledged { get; } = new();

    public ConcurrentDictionary<int, int> Statuses { get; } = new();

    public int ConnectionErrors;

    public string? LastError { get; set; }

    public int Count(int status) => Statuses.TryGetValue(status, out var n) ? n : 0;

    public override string ToString() =>
        $"acknowledged {Acknowledged.Count}; statuses {string.Join(", ", Statuses.OrderBy(static s => s.Key).Select(static s => $"{s.Key}×{s.Value}"))}; connection errors {ConnectionErrors} (last: {LastError})";
}

/// <summary>
/// One fault scenario's world: its own database on the fixture's cluster, a loopback receiver that can be
/// switched to failing, the real API process and real worker processes, and the clients submitting leads.
/// </summary>
public sealed class FaultRig : IAsyncDisposable
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(4);

    private readonly LocalPostgresCluster _cluster;
    private readonly List<ChildProcess> _processes = [];
    private readonly ConcurrentDictionary<string, ConcurrentBag<int>> _successes = new();
    private int _workerGeneration;

    private FaultRig(LocalPostgresCluster cluster, string database, WebhookReceiver receiver)
    {
        _cluster = cluster;
        Database = database;
        Receiver = receiver;
        ConnectionString = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database)) { Timeout = 5, CommandTimeout = 10 }.ConnectionString;
    }

    public string Database { get; }

    public string ConnectionString { get; }

    public WebhookReceiver Receiver { get; }

    public volatile ReceiverMode Mode;

    /// <summary>How long the receiver takes to answer 200 (keeps batches in flight long enough to be cut).</summary>
    public TimeSpan OkDelay { get; set; }

    public ChildProcess? Api { get; private set; }

    public Uri ApiAddress => Api?.Address ?? throw new InvalidOperationException("No API.");

    public List<ChildProcess> Workers { get; } = [];

    /// <summary>Webhook ids the receiver answered 2xx, with the Hermes-Attempt of each such answer.</summary>
    public IReadOnlyDictionary<string, ConcurrentBag<int>> Successes => _successes;

    public static bool Full => Environment.GetEnvironmentVariable("HERMES_FAULTS_FULL") == "1";

    public static async Task<FaultRig> StartAsync(LocalPostgresCluster cluster, string template, string database)
    {
        await cluster.CreateDatabaseAsync(database, template);
        await using (var admin = new NpgsqlConnection(cluster.ConnectionString()))
        {
            await admin.OpenAsync();
            await using var command = new NpgsqlCommand($"ALTER DATABASE {LocalPostgresCluster.Quote(database)} SET synchronous_commit = on", admin);
            await command.ExecuteNonQueryAsync();
        }

        var receiver = await WebhookReceiver.StartAsync();
        var rig = new FaultRig(cluster, database, receiver);
        receiver.Behaviour = rig.AnswerAsync;
        return rig;
    }

    /// <summary>Migrates a template database once per fixture.</summary>
    public static async Task CreateTemplateAsync(LocalPostgresCluster cluster, string template)
    {
        await cluster.CreateDatabaseAsync(template);
        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString(template));
        await using var context = PersistenceExtensions.CreateContext(dataSource);
        await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
    }

    public async Task StartApiAsync()
    {
        var api = ChildProcess.Start("api", ChildProcess.HostAssembly("Hermes.Api"), new Dictionary<string, string>
        {
            ["ConnectionStrings__Hermes"] = ConnectionString,
            ["Intake__RateLimit__PermitLimit"] = "1000000",
        });
        _processes.Add(api);
        await api.WaitListeningAsync(TimeSpan.FromSeconds(60));
        Api = api;
    }

    /// <summary>Starts a worker process; <paramref name="lease"/> overrides <see cref="Lease"/>.</summary>
    public async Task<ChildProcess> StartWorkerAsync(TimeSpan? lease = null)
    {
        var id = $"w{Interlocked.Increment(ref _workerGeneration)}";
        var worker = ChildProcess.Start(id, ChildProcess.HostAssembly("Hermes.Outbox.Worker"), new Dictionary<string, string>
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString),
            ["N8N_WEBHOOK_URL"] = Receiver.Url.ToString(),
            ["Outbox__WorkerId"] = id,
            ["Outbox__BatchSize"] = "8",
            ["Outbox__Concurrency"] = "4",
            ["Outbox__RequestTimeout"] = RequestTimeout.ToString(),
            ["Outbox__Lease"] = (lease ?? Lease).ToString(),
            ["Outbox__PollInterval"] = "00:00:00.200",
            ["Outbox__BaseDelay"] = "00:00:00.100",
            ["Outbox__MaxDelay"] = "00:00:00.500",
            ["Outbox__MaxAttempts"] = "1000",
            ["Outbox__CircuitBreaker__SamplingDuration"] = "00:00:01",
            ["Outbox__CircuitBreaker__BreakDuration"] = "00:00:00.500",
            ["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = "5",
        }, "run");
        _processes.Add(worker);
        await worker.WaitListeningAsync(TimeSpan.FromSeconds(60));
        Workers.Add(worker);
        return worker;
    }

    /// <summary>
    /// Submits <paramref name="count"/> distinct leads from <paramref name="lanes"/> clients, each retrying its
    /// lead with the same Idempotency-Key (as the website does) after a 503 or a broken connection, until it is
    /// acknowledged or <paramref name="limit"/> passes.
    /// </summary>
    public async Task<LoadResult> SubmitAsync(int count, int lanes, TimeSpan limit, Action<int>? onAcknowledged = null, TimeSpan? pace = null)
    {
        var result = new LoadResult();
        var next = -1;
        var deadline = Stopwatch.StartNew();
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(20) };
        var run = Guid.NewGuid().ToString("N")[..8];

        async Task LaneAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var form = TestData.ValidForm($"fault{i}.{run}@example.com");
                while (deadline.Elapsed < limit)
                {
                    try
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(ApiAddress, "/api/leads")) { Content = JsonContent.Create(form) };
                        request.Headers.Add("Idempotency-Key", $"fault-{run}-{i}");
                        using var response = await http.SendAsync(request);
                        var status = (int)response.StatusCode;
                        result.Statuses.AddOrUpdate(status, 1, static (_, n) => n + 1);
                        if (response.IsSuccessStatusCode)
                        {
                            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                            result.Acknowledged[i] = (string)answer["leadId"]!;
                            onAcknowledged?.Invoke(result.Acknowledged.Count);
                            break;
                        }

                        if (status != 503)
                        {
                            break; // A 4xx or a 500 is not retried: the assertions report it.
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
                    {
                        Interlocked.Increment(ref result.ConnectionErrors);
                        result.LastError = e.GetType().Name + ": " + e.Message;
                    }

                    await Task.Delay(100);
                }

                await Task.Delay(pace ?? TimeSpan.FromMilliseconds(10));
            }
        }

        await Task.WhenAll(Enumerable.Range(0, lanes).Select(_ => Task.Run(LaneAsync)));
        return result;
    }

    /// <summary>Waits until no row is pending any more (every one delivered or failed).</summary>
    public async Task WaitForQuiescenceAsync(TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        long pending = -1;
        while (clock.Elapsed < limit)
        {
            pending = await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'");
            if (pending == 0)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"{pending} outbox rows still pending after {limit}.\n{Diagnostics()}");
    }

    /// <summary>Waits until some of <paramref name="worker"/>'s claimed rows are in flight, then kills it with SIGKILL; returns how many rows it held.</summary>
    public async Task<long> KillMidBatchAsync(ChildProcess worker, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit && await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending' AND locked_by = $1", worker.Name) == 0)
        {
            await Task.Delay(5);
        }

        var inFlight = await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending' AND locked_by = $1", worker.Name);
        await worker.KillAsync();
        Workers.Remove(worker);
        return inFlight;
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default! : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<List<object?[]>> RowsAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// The promise, checked against what the database and the receiver hold: every acknowledged lead stored once,
    /// delivered or failed with its reason, duplicates only from a re-claim (distinct attempt numbers, which only
    /// a lease expiry or a crash produces), no expired lease left, and never a 500.
    /// </summary>
    public async Task AssertNothingLostAsync(int submitted, LoadResult load, bool crashes)
    {
        Assert.That(load.Acknowledged, Has.Count.EqualTo(submitted), $"every submission is acknowledged in the end: {load}");
        Assert.That(load.Statuses.Keys.Where(static s => s >= 500 && s != 503), Is.Empty, $"never a 5xx other than 503: {load}");

        var stored = (await RowsAsync("SELECT lead_id, count(*) FROM hermes_leads GROUP BY lead_id"))
            .ToDictionary(static r => (string)r[0]!, static r => (long)r[1]!);
        Assert.That(stored.Values.Where(static n => n != 1), Is.Empty, "no lead id stored twice");
        Assert.That(stored.Keys, Is.EquivalentTo(load.Acknowledged.Values), "the stored leads are exactly the acknowledged ones");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads l LEFT JOIN hermes_outbox o ON o.lead_id = l.id WHERE o.id IS NULL"), Is.Zero, "every lead has its outbox row");

        var outcomes = (await RowsAsync("SELECT l.lead_id, o.status, o.last_error FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id"))
            .Select(static r => (LeadId: (string)r[0]!, Status: (string)r[1]!, Error: (string?)r[2])).ToList();
        var notDelivered = outcomes.Where(o => !_successes.ContainsKey("msg_" + o.LeadId)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(notDelivered.Where(static o => o.Status != "failed" || string.IsNullOrEmpty(o.Error)), Is.Empty,
                "every lead the receiver did not get is failed with its reason");
            Assert.That(outcomes.Where(o => o.Status == "delivered" && !_successes.ContainsKey("msg_" + o.LeadId)), Is.Empty,
                "no row is marked delivered that the receiver never answered 2xx");
        });

        var duplicates = _successes.Where(static s => s.Value.Count > 1).ToList();
        TestContext.Out.WriteLine($"{Database}: {load}; {_successes.Count} delivered, {duplicates.Count} delivered more than once, {notDelivered.Count} failed");
        if (crashes)
        {
            Assert.That(duplicates.Where(static d => d.Value.Distinct().Count() != d.Value.Count), Is.Empty,
                "a duplicate comes only from a re-claim after a lease expiry or a crash: each delivery of it carries its own attempt number");
        }
        else
        {
            // Without a crash, the one way to a second delivery: the receiver answered 2xx, but later than the
            // worker's RequestTimeout, so the worker recorded that attempt as a timeout (no status code) and retried.
            var unexplained = new List<string>();
            foreach (var (webhookId, attempts) in duplicates)
            {
                var timedOut = (await RowsAsync(
                    "SELECT a.attempt_number FROM hermes_delivery_attempts a JOIN hermes_outbox o ON o.id = a.outbox_id JOIN hermes_leads l ON l.id = o.lead_id " +
                    $"WHERE 'msg_' || l.lead_id = '{webhookId.Replace("'", "''", StringComparison.Ordinal)}' AND a.outcome <> 'delivered' AND a.status_code IS NULL"))
                    .Select(static r => Convert.ToInt32(r[0], System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
                if (!attempts.Any(timedOut.Contains))
                {
                    unexplained.Add($"{webhookId} (2xx to attempts {string.Join(",", attempts.Order())}, timed out: {string.Join(",", timedOut.Order())})");
                }
            }

            Assert.That(unexplained, Is.Empty, "without a crash a duplicate is only a 2xx that reached the worker after its timeout");
        }

        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending' AND locked_by IS NOT NULL AND available_at < now()"), Is.Zero,
            "no row is left with an expired lease");
    }

    public string Diagnostics() =>
        string.Join("\n", _processes.Select(static p => $"--- {p.Name} (pid {p.Id}, exited {p.HasExited}) ---\n{Tail(p.Output)}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        await Receiver.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
    }

    private static string Tail(string text) => text.Length <= 3000 ? text : text[^3000..];

    private async Task AnswerAsync(ReceivedRequest request, HttpContext context)
    {
        switch (Mode)
        {
            case ReceiverMode.Fail500:
                context.Response.StatusCode = 500;
                return;
            case ReceiverMode.Hang:
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(static _ => { }, TaskScheduler.Default);
                return;
            case ReceiverMode.Drop:
                context.Abort();
                return;
            default:
                if (OkDelay > TimeSpan.Zero)
                {
                    await Task.Delay(OkDelay, CancellationToken.None);
                }

                _successes.GetOrAdd(request.WebhookId, static _ => []).Add(request.Attempt);
                context.Response.StatusCode = (int)HttpStatusCode.OK;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"brevoContactId": 42}""");
                return;
        }
    }
}
