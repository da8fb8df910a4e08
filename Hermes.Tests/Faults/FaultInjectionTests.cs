using Hermes.Persistence.Local;

namespace Hermes.Tests.Faults;

/// <summary>
/// No acknowledged lead is lost: the real API and worker processes under a steady, bounded stream of submissions,
/// while workers are killed with SIGKILL, PostgreSQL crashes and restarts, the receiver fails, and the API is killed.
/// CI runs the short form (about 120 leads per scenario); <c>HERMES_FAULTS_FULL=1</c> runs the long one.
/// The fixture owns its own PostgreSQL cluster so it can crash it without disturbing the rest of the suite. It
/// runs with the suite's fast settings (fsync off: the faults are process crashes, not power loss), except that
/// each scenario's database has <c>synchronous_commit = on</c>: with it off, an immediate restart really does lose
/// the last acknowledged commits — this suite caught exactly that in its first run — and no application can
/// promise more than its database's commit does.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Faults")]
public sealed class FaultInjectionTests
{
    private const string Template = "faults_template";
    private static readonly TimeSpan SubmitLimit = TimeSpan.FromSeconds(FaultRig.Full ? 300 : 60);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(FaultRig.Full ? 180 : 45);
    private LocalPostgresCluster _cluster = null!;
    private FaultRig? _rig;
    private int _databases;

    private static int Leads => FaultRig.Full ? 1500 : 120;

    [OneTimeSetUp]
    public async Task StartClusterAsync()
    {
        _cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = false, StopWithProcessId = Environment.ProcessId, MaxConnections = 200 },
            CancellationToken.None);
        await FaultRig.CreateTemplateAsync(_cluster, Template);
    }

    [OneTimeTearDown]
    public async Task StopClusterAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [SetUp]
    public async Task StartRigAsync()
    {
        _rig = await FaultRig.StartAsync(_cluster, Template, $"faults_{Interlocked.Increment(ref _databases)}");
    }

    [TearDown]
    public async Task StopRigAsync()
    {
        if (_rig is null)
        {
            return;
        }

        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
        {
            await TestContext.Out.WriteLineAsync(_rig.Diagnostics());
        }

        await _rig.DisposeAsync();
        _rig = null;
    }

    [Test]
    public async Task Killing_workers_mid_batch_loses_no_lead_and_duplicates_only_re_claimed_rows()
    {
        var rig = _rig!;
        rig.OkDelay = TimeSpan.FromMilliseconds(40);
        await rig.StartApiAsync();
        await rig.StartWorkerAsync();
        await rig.StartWorkerAsync();

        var load = rig.SubmitAsync(Leads, lanes: 4, SubmitLimit);
        var kills = FaultRig.Full ? 8 : 3;
        var cutRows = 0L;
        for (var k = 0; k < kills; k++)
        {
            cutRows += await rig.KillMidBatchAsync(rig.Workers[0], TimeSpan.FromSeconds(10));
            await rig.StartWorkerAsync();
        }

        var result = await load;
        await rig.WaitForQuiescenceAsync(DrainLimit);

        await rig.AssertNothingLostAsync(Leads, result, crashes: true);
        TestContext.Out.WriteLine($"{kills} workers killed holding {cutRows} claimed rows in all");
        Assert.That(cutRows, Is.Positive, "the kills really cut claimed batches");
        Assert.That(await rig.ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'"), Is.EqualTo(Leads),
            "with a healthy receiver every lead is delivered in the end");
    }

    private static readonly TimeSpan OutageLease = TimeSpan.FromSeconds(20);

    [Test]
    public async Task Restarting_postgres_abruptly_answers_503_never_500_and_loses_no_lead()
    {
        var rig = _rig!;
        await rig.StartApiAsync();
        // A lease longer than the outage (about 4 s): the workers keep the outcomes they could not write and write them
        // once the database is back. With an outage longer than the lease a worker stops itself with exit code 70
        // rather than let its rows be sent again while it lives (PoisonTests); that is not this scenario.
        await rig.StartWorkerAsync(OutageLease);
        await rig.StartWorkerAsync(OutageLease);
        var api = rig.Api!;
        Assert.That(await rig.ScalarAsync<string>("SHOW synchronous_commit"), Is.EqualTo("on"), "commits are acknowledged only once in the WAL");

        var crashAt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var load = rig.SubmitAsync(Leads, lanes: 4, SubmitLimit, acknowledged =>
        {
            if (acknowledged >= Leads / 3)
            {
                crashAt.TrySetResult();
            }
        });
        var restarts = FaultRig.Full ? 3 : 1;
        for (var r = 0; r < restarts; r++)
        {
            await crashAt.Task.WaitAsync(SubmitLimit);
            await _cluster.StopAsync(immediate: true);
            await Task.Delay(TimeSpan.FromSeconds(2));
            await _cluster.StartAgainAsync();
            Npgsql.NpgsqlConnection.ClearAllPools(); // the test's own pooled connections died with the server
            await Task.Delay(TimeSpan.FromSeconds(2));
        }

        var result = await load;
        await rig.WaitForQuiescenceAsync(DrainLimit);

        await rig.AssertNothingLostAsync(Leads, result, crashes: true);
        Assert.Multiple(() =>
        {
            Assert.That(result.Count(503), Is.Positive, $"the API answered 503 while the database was away: {result}");
            Assert.That(api.HasExited, Is.False, "the API recovered without a restart");
            Assert.That(rig.Workers.All(static w => !w.HasExited), Is.True, "the workers recovered without a restart");
        });
        Assert.That(await rig.ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'"), Is.EqualTo(Leads));
    }

    [Test]
    public async Task A_receiver_that_fails_hangs_and_drops_for_a_while_gets_every_lead_once_it_recovers()
    {
        var rig = _rig!;
        await rig.StartApiAsync();
        await rig.StartWorkerAsync();
        await rig.StartWorkerAsync();

        // The receiver's windows follow the stream: healthy, 500s, hangs past the timeout, dropped connections,
        // healthy again, each for about a sixth of the leads (paced so the windows last long enough to be seen).
        var modes = new[] { ReceiverMode.Ok, ReceiverMode.Fail500, ReceiverMode.Hang, ReceiverMode.Drop, ReceiverMode.Ok, ReceiverMode.Ok };
        var load = rig.SubmitAsync(Leads, lanes: 2, SubmitLimit, acknowledged => rig.Mode = modes[Math.Min(modes.Length - 1, acknowledged * modes.Length / Leads)],
            pace: TimeSpan.FromMilliseconds(FaultRig.Full ? 20 : 60));
        var result = await load;
        await rig.WaitForQuiescenceAsync(DrainLimit);

        await rig.AssertNothingLostAsync(Leads, result, crashes: false);
        var failedAttempts = await rig.RowsAsync("SELECT coalesce(status_code, 0), count(*) FROM hermes_delivery_attempts WHERE outcome <> 'delivered' GROUP BY 1");
        TestContext.Out.WriteLine("failed attempts by status: " + string.Join(", ", failedAttempts.Select(static r => $"{r[0]}×{r[1]}")));
        Assert.Multiple(async () =>
        {
            Assert.That(rig.Receiver.Count, Is.GreaterThan(Leads), "the failures were really seen and retried");
            Assert.That(await rig.ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE status_code = 500"), Is.Positive, "500s were recorded as attempts");
            Assert.That(await rig.ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE outcome <> 'delivered' AND status_code IS NULL"), Is.Positive, "timeouts and drops were recorded as attempts");
            Assert.That(await rig.ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'"), Is.EqualTo(Leads));
        });
    }

    [Test]
    public async Task Killing_the_api_under_load_loses_no_acknowledged_lead_and_stores_retries_once()
    {
        var rig = _rig!;
        await rig.StartApiAsync();
        await rig.StartWorkerAsync();
        await rig.StartWorkerAsync();

        var killAt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var load = rig.SubmitAsync(Leads, lanes: 4, SubmitLimit, acknowledged =>
        {
            if (acknowledged >= Leads / 3)
            {
                killAt.TrySetResult();
            }
        });
        var kills = FaultRig.Full ? 3 : 1;
        for (var k = 0; k < kills; k++)
        {
            await killAt.Task.WaitAsync(SubmitLimit);
            await rig.Api!.KillAsync();
            await rig.StartApiAsync();
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        var result = await load;
        await rig.WaitForQuiescenceAsync(DrainLimit);

        await rig.AssertNothingLostAsync(Leads, result, crashes: true);
        Assert.That(result.ConnectionErrors, Is.Positive, $"the kill really cut requests: {result}");
        Assert.That(await rig.ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'"), Is.EqualTo(Leads));
    }
}
