using System.Collections.Concurrent;
using System.Diagnostics;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Hermes.Bench.Worker;

/// <summary>
/// What one PostgreSQL takes (issue 33, docs/capacity.md): a drain with the xmin horizon held back, worker replicas
/// sharing one backlog, and submissions with deliveries sustained for minutes over a large attempt log.
/// </summary>
public static partial class Scenarios
{
    /// <summary>
    /// One worker (the defaults) drains a 100,000-row backlog, with and without a REPEATABLE READ transaction held
    /// open from before the worker starts until the last row is delivered; rounds alternate so drift hits both.
    /// </summary>
    public static async Task HeldXminAsync(BenchEnvironment bench, int rows = 100_000, int rounds = 2)
    {
        Console.WriteLine();
        Console.WriteLine(I($"## Drain of {rows:N0} rows by one worker (defaults), with and without a REPEATABLE READ transaction held open for the whole drain"));
        Console.WriteLine("| round | horizon | drain: process start → none pending | rows/s | outbox dead tuples after | outbox heap + indexes after | leads dead tuples after | duplicates |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var held in new[] { false, true })
            {
                await bench.ResetAsync();
                await PrefillAsync(bench, rows);
                await bench.ExecuteAsync("VACUUM ANALYZE hermes_outbox, hermes_leads");

                // The held transaction: a snapshot taken and kept, as a long report or a forgotten psql session would.
                await using var holder = held ? await bench.DataSource.OpenConnectionAsync() : null;
                await using var snapshot = holder is null ? null : await holder.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
                if (holder is not null)
                {
                    await using var look = new NpgsqlCommand("SELECT count(*) FROM hermes_outbox", holder, snapshot);
                    await look.ExecuteScalarAsync();
                }

                var started = Stopwatch.GetTimestamp();
                TimeSpan took;
                await using (await bench.StartWorkerAsync(new Dictionary<string, string>(), waitForStart: false))
                {
                    await WaitForDeliveriesAsync(bench, rows);
                    took = Stopwatch.GetElapsedTime(started);
                }

                var (dead, size, leadsDead) = await TableHealthAsync(bench);
                if (snapshot is not null)
                {
                    await snapshot.CommitAsync();
                }

                Console.WriteLine(Row(round, held ? "**held** (REPEATABLE READ open)" : "clean", I($"{took.TotalSeconds:0.0} s"), I($"**{rows / took.TotalSeconds:0}**"), dead, Mib(size), leadsDead, bench.Duplicates));
            }
        }
    }

    /// <summary>
    /// 1, 2 and 4 worker processes (or <paramref name="counts"/>; the defaults, each its own WorkerId) start together on one backlog; the rate, the
    /// CPU each side spent per 1,000 rows, and duplicates (the claim's SKIP LOCKED must keep them at zero).
    /// </summary>
    public static async Task ReplicasAsync(BenchEnvironment bench, IReadOnlyList<int> counts, int rows = 100_000, int rounds = 2)
    {
        Console.WriteLine();
        Console.WriteLine(I($"## {rows:N0}-row backlog drained by {string.Join(", ", counts)} worker replica(s) started together (defaults each)"));
        Console.WriteLine("| round | replicas | drain: process start → none pending | rows/s | CPU ms per 1,000 rows: workers / PostgreSQL / receiver | rows per replica (min–max) | duplicates |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var replicas in counts)
            {
                await bench.ResetAsync();
                await PrefillAsync(bench, rows);
                await bench.ExecuteAsync("VACUUM ANALYZE hermes_outbox, hermes_leads");
                var (postgresCpu, receiverCpu) = (bench.PostgresCpuTime(), BenchEnvironment.OwnCpuTime());
                var started = Stopwatch.GetTimestamp();
                var workers = await Task.WhenAll(Enumerable.Range(1, replicas).Select(n =>
                    bench.StartWorkerAsync(new Dictionary<string, string> { ["WorkerId"] = I($"bench-worker-{n}") }, waitForStart: false)));
                TimeSpan took;
                TimeSpan workerCpu;
                TimeSpan postgresUsed;
                try
                {
                    await WaitForDeliveriesAsync(bench, rows);
                    took = Stopwatch.GetElapsedTime(started);
                    workerCpu = workers.Aggregate(TimeSpan.Zero, static (sum, w) => sum + w.CpuTime);
                    // Read while the workers' backends live: an ended backend's CPU time leaves /proc with it.
                    postgresUsed = bench.PostgresCpuTime() - postgresCpu;
                }
                finally
                {
                    foreach (var worker in workers)
                    {
                        await worker.DisposeAsync();
                    }
                }

                var perThousand = 1000.0 / rows;
                var cpu = I($"{workerCpu.TotalMilliseconds * perThousand:0} / {postgresUsed.TotalMilliseconds * perThousand:0} / {(BenchEnvironment.OwnCpuTime() - receiverCpu).TotalMilliseconds * perThousand:0}");
                var shares = await bench.ColumnAsync("SELECT count(*) FROM hermes_delivery_attempts GROUP BY worker_id");
                Console.WriteLine(Row(round, replicas, I($"{took.TotalSeconds:0.0} s"), I($"**{rows / took.TotalSeconds:0}**"), cpu, I($"{shares.Min():N0}–{shares.Max():N0}"), bench.Duplicates));
            }
        }
    }

    /// <summary>
    /// Submissions and deliveries together for <paramref name="minutes"/> at <paramref name="perSecond"/> leads/s, over
    /// an attempt log that already holds 1,000,000 rows spread over the past ten days (10 attempts for each of
    /// 100,000 delivered leads). Each lead and its outbox row are written as the API writes them (one transaction, the
    /// wake-up deferred to one NOTIFY per burst) from 16 connections; one worker with the defaults delivers. Every 30 s:
    /// the rates, the p99 of the submission transaction and of commit → receipt, the tables' sizes and vacuum's work.
    /// </summary>
    public static async Task SustainedAsync(BenchEnvironment bench, int minutes = 10, int perSecond = 1_000)
    {
        const int history = 100_000;
        const int attemptsEach = 10;
        const int writers = 16;
        var window = TimeSpan.FromSeconds(30);
        Console.WriteLine();
        Console.WriteLine(I($"## {minutes} minutes at {perSecond:N0} leads/s submitted and delivered, the attempt log starting at {history * attemptsEach:N0} rows"));
        await bench.ResetAsync();
        var prefill = Stopwatch.StartNew();
        await PrefillAsync(bench, history);
        await bench.ExecuteAsync($"""
            SELECT hermes_attempt_partitions_ensure(current_date - 10, 11);
            UPDATE hermes_outbox SET status = 'delivered', delivered_at = now() - interval '1 day', attempts = {attemptsEach};
            INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, worker_id)
            SELECT o.id, o.lead_id, n, now() - make_interval(days => 10 - n) - interval '1 hour' + (o.id % 3000) * interval '1 s', 12,
                   CASE WHEN n = {attemptsEach} THEN 200 ELSE 503 END, CASE WHEN n = {attemptsEach} THEN 'delivered' ELSE 'retry' END, 'bench-history'
            FROM hermes_outbox o, generate_series(1, {attemptsEach}) n;
            """);
        await bench.ExecuteAsync("VACUUM ANALYZE");
        // auto_explain in the sessions opened from now on (the worker's): a statement of over 100 ms writes its plan to
        // the cluster's log, so that a window in which deliveries stall shows which plan the worker's statements ran. (At
        // 133 deliveries/s an outcome write of a batch takes about 100-200 ms: a threshold of 250 ms could miss it.)
        await bench.ExecuteAsync($"""
            ALTER DATABASE {BenchEnvironment.DatabaseName} SET session_preload_libraries = 'auto_explain';
            ALTER DATABASE {BenchEnvironment.DatabaseName} SET auto_explain.log_min_duration = '100ms';
            """);
        var baseline = await bench.ScalarAsync("SELECT count(*) FROM hermes_outbox");
        Console.WriteLine(I($"history written in {prefill.Elapsed.TotalSeconds:0} s: {history:N0} delivered leads, {await bench.ScalarAsync("SELECT count(*) FROM hermes_delivery_attempts"):N0} attempts"));
        Console.WriteLine("| minute | submitted/s | submission p99 ms | delivered/s | commit → receipt p50 / p99 ms | pending at end | outbox heap + indexes | outbox dead tuples (autovacuums so far) | leads heap + indexes | attempt log (rows) | attempt-log autovacuums so far | checkpoints so far | worker's statements: running or waiting on (share of samples) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");

        var notifier = new OutboxNotifier(bench.DataSource, NullLogger<OutboxNotifier>.Instance, TimeProvider.System);
        var commits = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var submissions = new ConcurrentQueue<(long At, double Ms)>();
        await using var worker = await bench.StartWorkerAsync(new Dictionary<string, string>());
        var total = perSecond * minutes * 60;

        // What the worker's statements are doing, sampled five times a second, so that a window in which deliveries
        // stall names what they waited on (a lock, the WAL, I/O) or shows them running.
        var samples = new ConcurrentQueue<(string Doing, double Ms, string Statement)>();
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            await using var connection = await bench.DataSource.OpenConnectionAsync();
            while (!stopSampling.IsCancellationRequested)
            {
                await using (var sample = new NpgsqlCommand("""
                    SELECT coalesce(wait_event_type || ':' || wait_event, 'running'), extract(epoch FROM clock_timestamp() - query_start) * 1000,
                           left(regexp_replace(query, '\s+', ' ', 'g'), 60)
                    FROM pg_stat_activity WHERE application_name LIKE 'hermes-worker%' AND state = 'active'
                    """, connection))
                await using (var reader = await sample.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        samples.Enqueue((reader.GetString(0), reader.GetDouble(1), reader.GetString(2)));
                    }
                }

                try
                {
                    await Task.Delay(200, stopSampling.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
        var clock = Stopwatch.StartNew();
        var period = TimeSpan.FromSeconds(1.0 / perSecond);
        var next = -1;

        // Open loop: lead i is due at i × period; a writer that falls behind sends at once, so a slow database shows
        // as a submission rate under the target and a longer p99, not as a politely slower client.
        var load = Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < total; i = Interlocked.Increment(ref next))
            {
                var due = period * i;
                await UntilAsync(clock, due);

                var before = Stopwatch.GetTimestamp();
                var id = await InsertLeadAsync(bench.DataSource, deferWakeUp: true);
                var after = Stopwatch.GetTimestamp();
                notifier.Signal();
                commits[id] = after;
                submissions.Enqueue((after, Stopwatch.GetElapsedTime(before, after).TotalMilliseconds));
            }
        })));

        var windowStart = Stopwatch.GetTimestamp();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var minute = window.TotalMinutes; ; minute += window.TotalMinutes)
        {
            var rest = window - Stopwatch.GetElapsedTime(windowStart);
            await Task.WhenAny(load, Task.Delay(rest > TimeSpan.Zero ? rest : TimeSpan.Zero));
            if (load.IsFaulted)
            {
                await load;
            }

            var windowEnd = Stopwatch.GetTimestamp();
            var seconds = Stopwatch.GetElapsedTime(windowStart, windowEnd).TotalSeconds;
            var submitted = new List<double>();
            while (submissions.TryDequeue(out var s))
            {
                submitted.Add(s.Ms);
            }

            var delivered = bench.Received.Where(r => r.Value >= windowStart && r.Value < windowEnd && seen.Add(r.Key)).ToList();
            var receipt = delivered.Where(r => commits.ContainsKey(r.Key)).Select(r => Stopwatch.GetElapsedTime(commits[r.Key], r.Value).TotalMilliseconds).Order().ToArray();
            var sizes = await bench.RowAsync($"""
                SELECT pg_total_relation_size('hermes_outbox'), n.n_dead_tup, n.autovacuum_count,
                       pg_total_relation_size('hermes_leads'),
                       (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('hermes_delivery_attempts')),
                       (SELECT count(*) FROM hermes_delivery_attempts),
                       (SELECT sum(autovacuum_count) FROM pg_stat_user_tables WHERE relname LIKE 'hermes_delivery_attempts_p%'),
                       (SELECT count(*) FROM hermes_outbox WHERE status = 'pending'),
                       (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)
                FROM pg_stat_user_tables n WHERE n.relname = 'hermes_outbox'
                """);
            var sampled = new List<(string Doing, double Ms, string Statement)>();
            while (samples.TryDequeue(out var sample))
            {
                sampled.Add(sample);
            }

            var waitedOn = string.Join(", ", sampled.CountBy(static s => s.Doing).OrderByDescending(static g => g.Value).Take(3)
                .Select(g => I($"{g.Key} {100.0 * g.Value / sampled.Count:0}%")));
            var longest = sampled.Count == 0 ? default : sampled.MaxBy(static s => s.Ms);
            if (longest.Ms >= 250)
            {
                waitedOn += I($"; longest seen {longest.Ms:0} ms: `{longest.Statement.Replace("|", "/", StringComparison.Ordinal)}`");
            }
            Console.WriteLine(Row(I($"{minute:0.0}"), I($"{submitted.Count / seconds:0}"), I($"{Percentile([.. submitted.Order()], 0.99):0.0}"), I($"{delivered.Count / seconds:0}"),
                I($"{Percentile(receipt, 0.5):0.0} / **{Percentile(receipt, 0.99):0.0}**"), sizes[7], Mib(sizes[0]), I($"{sizes[1]:N0} ({sizes[2]})"), Mib(sizes[3]), I($"{Mib(sizes[4])} ({sizes[5]:N0})"), sizes[6], sizes[8], waitedOn));
            windowStart = windowEnd;
            if (load.IsCompleted)
            {
                break;
            }
        }

        await stopSampling.CancelAsync();
        await sampler;
        var drained = Stopwatch.StartNew();
        while (bench.Received.Count < total || await bench.ScalarAsync("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'") < baseline + total)
        {
            if (drained.Elapsed > TimeSpan.FromMinutes(10))
            {
                Console.WriteLine(I($"NOT DRAINED: {bench.Received.Count:N0} of {total:N0} received ten minutes after the load; duplicates {bench.Duplicates}"));
                return;
            }

            await Task.Delay(100);
        }

        Console.WriteLine(I($"all {total:N0} delivered; duplicates {bench.Duplicates}"));
        SlowPlans(bench);
    }

    /// <summary>
    /// The plans auto_explain logged for statements on hermes_outbox of over 100 ms, into
    /// bench/out/worker/sustained-slow-plans.txt: the worker's, and the bench's own inserts, since auto_explain is set
    /// for the whole database (the log line does not say which session).
    /// </summary>
    private static void SlowPlans(BenchEnvironment bench)
    {
        var entries = new List<string>();
        var current = new System.Text.StringBuilder();
        foreach (var line in File.ReadLines(bench.Cluster.LogFile))
        {
            var starts = line.Length > 0 && !char.IsWhiteSpace(line[0]);
            if (starts && current.Length > 0)
            {
                entries.Add(current.ToString());
                current.Clear();
            }

            if (starts ? line.Contains("plan:", StringComparison.Ordinal) : current.Length > 0)
            {
                current.AppendLine(line);
            }
        }

        if (current.Length > 0)
        {
            entries.Add(current.ToString());
        }

        var worker = entries.Where(static e => e.Contains("hermes_outbox", StringComparison.Ordinal) && !e.Contains("count(*)", StringComparison.Ordinal)).ToList();
        Directory.CreateDirectory(Path.Combine("bench", "out", "worker"));
        var file = Path.Combine("bench", "out", "worker", "sustained-slow-plans.txt");
        File.WriteAllText(file, string.Join(Environment.NewLine, worker));
        Console.WriteLine(I($"auto_explain: {worker.Count} statements on hermes_outbox of over 100 ms; their plans in {file}"));
    }

    private static async Task<(long Dead, long Size, long LeadsDead)> TableHealthAsync(BenchEnvironment bench)
    {
        await bench.ExecuteAsync("SELECT pg_stat_force_next_flush()");
        // The statistics collector is cumulative and flushed by the backends: give the worker's a moment to land.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var row = await bench.RowAsync("""
            SELECT o.n_dead_tup, pg_total_relation_size('hermes_outbox'), l.n_dead_tup
            FROM pg_stat_user_tables o, pg_stat_user_tables l
            WHERE o.relname = 'hermes_outbox' AND l.relname = 'hermes_leads'
            """);
        return (row[0], row[1], row[2]);
    }

    private static string Mib(long bytes) => I($"{bytes / 1048576.0:0.0} MiB");

    private static string I(FormattableString text) => text.ToString(Invariant);

    private static string Row(params object[] cells) =>
        "| " + string.Join(" | ", cells.Select(static c => c is long or int ? string.Format(Invariant, "{0:N0}", c) : Convert.ToString(c, Invariant))) + " |";
}
