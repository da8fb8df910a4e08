using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Hermes.Domain;
using Hermes.Persistence.Local;
using Hermes.Persistence.Outbox;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Hermes.Bench.Worker;

public static partial class Scenarios
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Deliveries per second from one worker to a receiver that answers 200 at once.</summary>
    public static async Task ThroughputAsync(BenchEnvironment bench)
    {
        const int rows = 30_000;
        const int warmUp = 10_000;
        Console.WriteLine();
        Console.WriteLine($"## Throughput: {rows} rows committed in one transaction while one idle, warmed-up ({warmUp} deliveries) worker listens; time from commit until all are delivered");
        Console.WriteLine("| BatchSize | Concurrency | deliveries/s (commit → all delivered in DB) | receiver: first → last | duplicates | CPU ms per 1000 deliveries: worker / PostgreSQL / receiver |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var configurations = new[] { (100, 32), (200, 64), (32, 16) };
        foreach (var (batch, concurrency) in Enumerable.Range(0, 3).SelectMany(_ => configurations))
        {
            await bench.ResetAsync();
            await using (var worker = await bench.StartWorkerAsync(new Dictionary<string, string>
            {
                ["BatchSize"] = batch.ToString(Invariant),
                ["Concurrency"] = concurrency.ToString(Invariant),
                ["Lease"] = "00:10:00",
            }))
            {
                // Warm-up: the first thousands of deliveries of a fresh process are mostly JIT work (perf showed over
                // half the worker's CPU in the JIT), which a long-running worker does not pay.
                await PrefillAsync(bench, warmUp);
                await WaitForDeliveriesAsync(bench, warmUp);
                await bench.ResetAsync();

                var committed = await PrefillAsync(bench, rows);
                var (workerCpu, postgresCpu, receiverCpu) = (worker.CpuTime, bench.PostgresCpuTime(), BenchEnvironment.OwnCpuTime());
                await WaitForDeliveriesAsync(bench, rows);

                var done = Stopwatch.GetTimestamp();
                var perThousand = 1000.0 / rows;
                var cpu = string.Create(Invariant, $"{(worker.CpuTime - workerCpu).TotalMilliseconds * perThousand:0} / {(bench.PostgresCpuTime() - postgresCpu).TotalMilliseconds * perThousand:0} / {(BenchEnvironment.OwnCpuTime() - receiverCpu).TotalMilliseconds * perThousand:0}");
                var first = bench.Received.Values.Min();
                var last = bench.Received.Values.Max();
                var rate = rows / Stopwatch.GetElapsedTime(committed, done).TotalSeconds;
                var receiverRate = rows / Stopwatch.GetElapsedTime(first, last).TotalSeconds;
                Console.WriteLine(string.Create(Invariant, $"| {batch} | {concurrency} | **{rate:0}** ({Stopwatch.GetElapsedTime(committed, done).TotalSeconds:0.00} s) | {receiverRate:0}/s | {bench.Duplicates} | {cpu} |"));
            }
        }
    }

    private static async Task WaitForDeliveriesAsync(BenchEnvironment bench, int rows)
    {
        // The receiver's count first (free), then the database's (a scan), so measuring costs the database little.
        while (bench.Received.Count < rows)
        {
            await Task.Delay(5);
        }

        while (await bench.ScalarAsync("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'") < rows)
        {
            await Task.Delay(5);
        }
    }

    /// <summary>Commit-to-receipt latency at 100 leads/s, each lead and its outbox row in its own transaction.</summary>
    public static async Task LatencyAsync(BenchEnvironment bench)
    {
        const int perSecond = 100;
        const int warmUpSeconds = 5;
        const int measuredSeconds = 30;
        Console.WriteLine();
        Console.WriteLine($"## Latency from commit to receipt at {perSecond} leads/s ({measuredSeconds} s measured after {warmUpSeconds} s warm-up; each lead + outbox row one transaction)");
        Console.WriteLine("| wake-up | p50 ms | p90 ms | p99 ms | max ms | commit p50 ms | delivered |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        // "as the API writes": its transactions defer the insert trigger and OutboxNotifier sends one NOTIFY per burst
        // after the commits (the CoalescedWakeUp migration); the trigger's own NOTIFY at commit is what every other writer gets.
        var runs = new (string Label, Dictionary<string, string> Settings, bool Coalesced)[]
        {
            ("coalesced NOTIFY after commit (OutboxNotifier, as the API writes), poll 5 s", new() { ["Listen"] = "true", ["PollInterval"] = "00:00:05" }, true),
            ("NOTIFY from the insert trigger at commit (any other writer), poll 5 s", new() { ["Listen"] = "true", ["PollInterval"] = "00:00:05" }, false),
            ("no NOTIFY, poll 1 s", new() { ["Listen"] = "false", ["PollInterval"] = "00:00:01" }, false),
            ("no NOTIFY, poll 100 ms", new() { ["Listen"] = "false", ["PollInterval"] = "00:00:00.100" }, false),
        };
        var notifier = new OutboxNotifier(bench.DataSource, NullLogger<OutboxNotifier>.Instance, TimeProvider.System);
        foreach (var (label, settings, coalesced) in runs)
        {
            await bench.ResetAsync();
            await using (await bench.StartWorkerAsync(settings))
            {
                // Warm the worker's JIT first (see ThroughputAsync); the paced warm-up below then settles the rest.
                await PrefillAsync(bench, 5_000);
                await WaitForDeliveriesAsync(bench, 5_000);
                await bench.ResetAsync();

                var (latencies, commitTimes, measured) = await PacedAsync(bench, notifier, coalesced, perSecond, warmUpSeconds, measuredSeconds);
                Console.WriteLine(string.Create(Invariant,
                    $"| {label} | **{Percentile(latencies, 0.50):0.0}** | {Percentile(latencies, 0.90):0.0} | {Percentile(latencies, 0.99):0.0} | {latencies[^1]:0.0} | {Percentile(commitTimes, 0.5):0.0} | {latencies.Length}/{measured} |"));
            }
        }
    }

    /// <summary>
    /// Commit-to-receipt at 100 leads/s as the API writes them, on a fresh table and right after one cold worker has
    /// drained a backlog of <paramref name="backlog"/> rows (timed from its process start until none is pending, as
    /// after an outage); the worker then idle and listening while autovacuum catches up. Two windows after the drain,
    /// each with the outbox's dead tuples and autovacuums at its end.
    /// </summary>
    public static async Task AfterDrainAsync(BenchEnvironment bench, int backlog)
    {
        const int perSecond = 100;
        const int warmUpSeconds = 5;
        const int measuredSeconds = 30;
        var settings = new Dictionary<string, string> { ["Listen"] = "true", ["PollInterval"] = "00:00:05" };
        var notifier = new OutboxNotifier(bench.DataSource, NullLogger<OutboxNotifier>.Instance, TimeProvider.System);
        Console.WriteLine();
        Console.WriteLine(string.Create(Invariant, $"## Commit to receipt at {perSecond} leads/s on a fresh table and after a {backlog:N0}-row drain ({Path.GetFileName(bench.WorkerDll)}, worker defaults)"));
        Console.WriteLine("| when | p50 ms | p90 ms | p99 ms | max ms | commit p50 ms | delivered | outbox dead tuples (autovacuums) at the end |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");

        async Task RowAsync(string when)
        {
            var (latencies, commitTimes, measured) = await PacedAsync(bench, notifier, coalesced: true, perSecond, warmUpSeconds, measuredSeconds);
            await bench.ExecuteAsync("SELECT pg_stat_force_next_flush()");
            var vacuum = await bench.RowAsync("SELECT n_dead_tup, autovacuum_count FROM pg_stat_user_tables WHERE relname = 'hermes_outbox'");
            Console.WriteLine(string.Create(Invariant,
                $"| {when} | **{Percentile(latencies, 0.50):0.0}** | {Percentile(latencies, 0.90):0.0} | **{Percentile(latencies, 0.99):0.0}** | {latencies[^1]:0.0} | {Percentile(commitTimes, 0.5):0.0} | {latencies.Length}/{measured} | {vacuum[0]:N0} ({vacuum[1]}) |"));
        }

        await bench.ResetAsync();
        await using (await bench.StartWorkerAsync(settings))
        {
            await PrefillAsync(bench, 5_000);
            await WaitForDeliveriesAsync(bench, 5_000);
            await bench.ResetAsync();
            await RowAsync("fresh table (worker warmed by 5,000 deliveries)");
        }

        await bench.ResetAsync();
        var seeded = Stopwatch.StartNew();
        await PrefillAsync(bench, backlog);
        await bench.ExecuteAsync("VACUUM ANALYZE hermes_outbox, hermes_leads");
        var seeding = seeded.Elapsed;
        var started = Stopwatch.GetTimestamp();
        await using (await bench.StartWorkerAsync(settings, waitForStart: false))
        {
            // The receiver's count first (free), then the database's: a count of a large backlog every few
            // milliseconds would take a core from the drain it measures.
            await WaitForDeliveriesAsync(bench, backlog);

            var drain = Stopwatch.GetElapsedTime(started);
            Console.WriteLine(string.Create(Invariant,
                $"| drain: {backlog:N0} rows (seeded in {seeding.TotalSeconds:0} s) from the worker's process start to none pending: **{drain.TotalSeconds:0.0} s = {backlog / drain.TotalSeconds:0} rows/s**, duplicates {bench.Duplicates} | | | | | | | |"));
            await RowAsync("0–35 s after the drain");
            await RowAsync("35–70 s after the drain");
        }
    }

    /// <summary>
    /// Leads written at <paramref name="perSecond"/>, each lead and its outbox row in its own transaction (with
    /// <paramref name="coalesced"/>, as the API writes them: the trigger deferred, one NOTIFY per burst after the
    /// commits); then the time from each commit to its receipt, of those after the warm-up, sorted, with the commits'
    /// own times and how many were measured (those received within 30 s of the last commit are in the first array).
    /// </summary>
    private static async Task<(double[] Latencies, double[] CommitTimes, int Measured)> PacedAsync(
        BenchEnvironment bench, OutboxNotifier notifier, bool coalesced, int perSecond, int warmUpSeconds, int measuredSeconds)
    {
        var commits = new ConcurrentDictionary<string, (long Committed, long Took)>(StringComparer.Ordinal);
        var total = perSecond * (warmUpSeconds + measuredSeconds);
        var period = TimeSpan.FromSeconds(1.0 / perSecond);
        var clock = Stopwatch.StartNew();
        var inserts = new List<Task>(total);
        for (var i = 0; i < total; i++)
        {
            var due = period * i;
            await UntilAsync(clock, due);

            inserts.Add(Task.Run(async () =>
            {
                var started = Stopwatch.GetTimestamp();
                var id = await InsertLeadAsync(bench.DataSource, deferWakeUp: coalesced);
                var committed = Stopwatch.GetTimestamp();
                if (coalesced)
                {
                    notifier.Signal();
                }

                commits[id] = (committed, committed - started);
            }));
        }

        await Task.WhenAll(inserts);
        var wait = Stopwatch.StartNew();
        while (commits.Keys.Any(id => !bench.Received.ContainsKey(id)) && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }

        var measured = commits.OrderBy(static c => c.Value.Committed).Skip(perSecond * warmUpSeconds).ToList();
        var latencies = measured
            .Where(c => bench.Received.ContainsKey(c.Key))
            .Select(c => Stopwatch.GetElapsedTime(c.Value.Committed, bench.Received[c.Key]).TotalMilliseconds)
            .Order().ToArray();
        var commitTimes = measured.Select(static c => TimeSpan.FromTicks(c.Value.Took * TimeSpan.TicksPerSecond / Stopwatch.Frequency).TotalMilliseconds).Order().ToArray();
        return (latencies, commitTimes, measured.Count);
    }

    /// <summary>
    /// What the NOTIFY trigger costs the submission rate: pgbench of the two-row insert with the trigger, without
    /// any NOTIFY, and with the NOTIFY sent after the commit in its own transaction with synchronous_commit off.
    /// </summary>
    public static async Task NotifyCostAsync(BenchEnvironment bench)
    {
        const int seconds = 10;
        Console.WriteLine();
        Console.WriteLine($"## NOTIFY cost: pgbench, one transaction = lead insert + outbox insert, {seconds} s per run, a LISTEN connection consuming; runs interleaved, two rounds");
        Console.WriteLine("| clients | tps, NOTIFY trigger (as migrated) | tps, no NOTIFY | change | tps, NOTIFY after commit, own tx, synchronous_commit off | change |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var modes = new (string Name, bool Trigger, string Script)[]
        {
            ("trigger", true, PgbenchScript(notifyAfter: false)),
            ("none", false, PgbenchScript(notifyAfter: false)),
            ("after", false, PgbenchScript(notifyAfter: true)),
        };
        var scripts = modes.Select(static m => Path.Combine(Path.GetTempPath(), $"hermes-insert-{m.Name}-{Environment.ProcessId}.sql")).ToArray();
        for (var i = 0; i < modes.Length; i++)
        {
            await File.WriteAllTextAsync(scripts[i], modes[i].Script);
        }

        using var stop = new CancellationTokenSource();
        var listener = ListenAsync(bench, stop.Token);
        try
        {
            foreach (var clients in new[] { 1, 8, 32 })
            {
                var tps = modes.Select(static _ => new List<double>()).ToArray();
                for (var round = 0; round < 2; round++)
                {
                    var order = round == 0 ? new[] { 0, 1, 2 } : [2, 1, 0];
                    foreach (var m in order)
                    {
                        await bench.ResetAsync();
                        await using (var toggle = bench.DataSource.CreateCommand($"ALTER TABLE hermes_outbox {(modes[m].Trigger ? "ENABLE" : "DISABLE")} TRIGGER hermes_outbox_notify_insert"))
                        {
                            await toggle.ExecuteNonQueryAsync();
                        }

                        tps[m].Add(await PgbenchAsync(bench, scripts[m], clients, seconds));
                    }
                }

                string Cell(int m) => string.Create(Invariant, $"{tps[m].Average():0} ({string.Join(", ", tps[m].Select(static t => t.ToString("0", Invariant)))})");
                string Change(int m) => string.Create(Invariant, $"{(tps[m].Average() - tps[1].Average()) / tps[1].Average() * 100:+0;-0}%");
                Console.WriteLine($"| {clients} | {Cell(0)} | {Cell(1)} | {Change(0)} | {Cell(2)} | {Change(2)} |");
            }
        }
        finally
        {
            await using (var restore = bench.DataSource.CreateCommand("ALTER TABLE hermes_outbox ENABLE TRIGGER hermes_outbox_notify_insert"))
            {
                await restore.ExecuteNonQueryAsync();
            }

            await stop.CancelAsync();
            try
            {
                await listener;
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }

            foreach (var script in scripts)
            {
                File.Delete(script);
            }
        }
    }

    private static async Task ListenAsync(BenchEnvironment bench, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(bench.Cluster.ConnectionString(BenchEnvironment.DatabaseName) + ";Pooling=false");
        await connection.OpenAsync(cancellationToken);
        await using (var listen = new NpgsqlCommand("LISTEN hermes_outbox", connection))
        {
            await listen.ExecuteNonQueryAsync(cancellationToken);
        }

        while (true)
        {
            await connection.WaitAsync(cancellationToken);
        }
    }

    private static async Task<double> PgbenchAsync(BenchEnvironment bench, string script, int clients, int seconds)
    {
        var pgbench = Path.Combine(LocalPostgresCluster.FindBinDirectory()!, "pgbench");
        var start = new ProcessStartInfo(pgbench,
        [
            "-n", "-c", clients.ToString(Invariant), "-j", Math.Min(clients, 2).ToString(Invariant), "-T", seconds.ToString(Invariant),
            "-f", script, "-h", "127.0.0.1", "-p", bench.Cluster.Port.ToString(Invariant), "-U", LocalPostgresCluster.Superuser, BenchEnvironment.DatabaseName,
        ])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var match = TpsPattern().Match(output);
        if (process.ExitCode != 0 || !match.Success)
        {
            throw new InvalidOperationException($"pgbench failed ({process.ExitCode}): {output}\n{errors}");
        }

        return double.Parse(match.Groups[1].Value, Invariant);
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsPattern();

    /// <summary>The API's write: the lead, then its outbox row with the frozen payload, one transaction.</summary>
    private static string PgbenchScript(bool notifyAfter)
    {
        var lead = SampleLead(1, "lead_00000000000000000000000000");
        var payload = WebhookPayload.For(lead).ToJson().Replace("'", "''", StringComparison.Ordinal);
        return $"""
            BEGIN;
            INSERT INTO hermes_leads (lead_id, {Columns}) VALUES ('lead_' || md5(random()::text || clock_timestamp()::text), {string.Join(", ", LeadColumns.Select(c => Literal(c.Value(lead))))});
            INSERT INTO hermes_outbox (lead_id, payload) VALUES (currval(pg_get_serial_sequence('hermes_leads', 'id')), '{payload}');
            END;
            {(notifyAfter ? "BEGIN;\nSET LOCAL synchronous_commit TO off;\nSELECT pg_notify('hermes_outbox', '');\nEND;\n" : "")}
            """;
    }

    /// <summary>The lead's columns the benchmarks write, each with its value from a <see cref="Lead"/>.</summary>
    private static readonly (string Column, Func<Lead, object?> Value)[] LeadColumns =
    [
        ("first_name", static l => l.FirstName), ("last_name", static l => l.LastName), ("email", static l => l.Email),
        ("country", static l => l.Country), ("phone_number", static l => l.PhoneNumber), ("user_role", static l => l.UserRole),
        ("problem_description", static l => l.ProblemDescription), ("company_name", static l => l.CompanyName),
        ("company_size", static l => l.CompanySize), ("service_urgency", static l => l.ServiceUrgency),
        ("agree_to_terms", static l => l.AgreeToTerms), ("privacy_consent", static l => l.PrivacyConsent),
        ("marketing_consent", static l => l.MarketingConsent), ("captcha_token", static l => l.CaptchaToken),
        ("user_agent", static l => l.UserAgent), ("ip_address", static l => l.IpAddress), ("source", static l => l.Source),
        ("status", static l => l.Status), ("n8n_success", static l => l.N8nSuccess), ("lead_score", static l => l.LeadScore),
        ("priority", static l => l.Priority),
    ];

    private static string Columns => string.Join(", ", LeadColumns.Select(static c => c.Column));

    /// <summary>A value as an SQL literal, for the pgbench script (which takes no parameters).</summary>
    private static string Literal(object? value) => value switch
    {
        null => "NULL",
        bool b => b ? "true" : "false",
        int or long => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        _ when value.ToString()!.Contains('\n', StringComparison.Ordinal) =>
            "E'" + value.ToString()!.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "'",
        _ => "'" + value.ToString()!.Replace("'", "''", StringComparison.Ordinal) + "'",
    };

    /// <summary>The tests' sample lead (Hermes.Tests/Infrastructure/TestData.cs, linked into this project).</summary>
    private static Lead SampleLead(long id, string leadId)
    {
        var lead = TestData.ValidLead(leadId);
        lead.BackupId = id;
        lead.CreatedAt = DateTimeOffset.UtcNow;
        return lead;
    }

    /// <summary>Stores <paramref name="rows"/> leads and outbox rows in one transaction; returns the commit's Stopwatch timestamp.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA2100", Justification = "The text is built from the constant column list; the values are parameters.")]
    private static async Task<long> PrefillAsync(BenchEnvironment bench, int rows)
    {
        var template = WebhookPayload.For(SampleLead(0, "lead_template")).ToJson();
        await using var connection = await bench.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var sample = SampleLead(0, "lead_template");
        var values = LeadColumns.Select((c, n) => c.Column == "email" ? "'ada' || g || '@example.com'" : "$" + (n + 2).ToString(CultureInfo.InvariantCulture));
        await using (var leads = new NpgsqlCommand($"""
            INSERT INTO hermes_leads (lead_id, {Columns})
            SELECT 'lead_bench' || lpad(g::text, 21, '0'), {string.Join(", ", values)}
            FROM generate_series(1, $1) g
            """, connection, transaction))
        {
            leads.Parameters.Add(new() { Value = rows });
            foreach (var (_, value) in LeadColumns)
            {
                leads.Parameters.Add(new() { Value = value(sample) ?? DBNull.Value });
            }

            await leads.ExecuteNonQueryAsync();
        }

        await using (var outbox = new NpgsqlCommand("""
            INSERT INTO hermes_outbox (lead_id, payload)
            SELECT id, jsonb_set(jsonb_set(jsonb_set($1::jsonb, '{id}', to_jsonb('msg_' || lead_id)), '{leadId}', to_jsonb(lead_id)), '{backupId}', to_jsonb(id))
            FROM hermes_leads ORDER BY id
            """, connection, transaction) { Parameters = { new() { Value = template } } })
        {
            await outbox.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return Stopwatch.GetTimestamp();
    }

    /// <summary>A lead and its outbox row in one transaction; with <paramref name="deferWakeUp"/>, as the API writes them.</summary>
    private static async Task<string> InsertLeadAsync(NpgsqlDataSource dataSource, bool deferWakeUp)
    {
        var lead = SampleLead(0, LeadIdentifier.New());
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var insert = new NpgsqlBatch(connection, transaction))
        {
            if (deferWakeUp)
            {
                insert.BatchCommands.Add(new NpgsqlBatchCommand(OutboxNotifier.DeferInThisTransactionSql));
            }

            var command = new NpgsqlBatchCommand($"""
                INSERT INTO hermes_leads (lead_id, {Columns})
                VALUES ($1, {string.Join(", ", LeadColumns.Select((_, n) => "$" + (n + 2).ToString(CultureInfo.InvariantCulture)))})
                RETURNING id, created_at
                """) { Parameters = { new() { Value = lead.LeadId } } };
            foreach (var (_, value) in LeadColumns)
            {
                command.Parameters.Add(new() { Value = value(lead) ?? DBNull.Value });
            }

            insert.BatchCommands.Add(command);
            await using var reader = await insert.ExecuteReaderAsync();
            if (deferWakeUp)
            {
                await reader.NextResultAsync();
            }

            await reader.ReadAsync();
            lead.BackupId = reader.GetInt64(0);
            lead.CreatedAt = reader.GetFieldValue<DateTimeOffset>(1);
        }

        var payload = WebhookPayload.For(lead);
        await using (var outbox = new NpgsqlCommand("INSERT INTO hermes_outbox (lead_id, payload) VALUES ($1, $2::jsonb)", connection, transaction)
        {
            Parameters = { new() { Value = lead.BackupId }, new() { Value = payload.ToJson() } },
        })
        {
            await outbox.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return payload.Id;
    }

    /// <summary>
    /// Waits until <paramref name="clock"/> reaches <paramref name="due"/>; at once when it already has. The wait is read
    /// once: reading the clock again for <c>Task.Delay</c> after checking it could give a span just under zero, and
    /// Task.Delay takes anything from -1 to -2 ms as -1, "forever" (a writer of the sustained run never returned).
    /// </summary>
    private static async Task UntilAsync(Stopwatch clock, TimeSpan due)
    {
        var wait = due - clock.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
