using Hermes.Domain;
using Hermes.Outbox.Worker.Retention;
using Hermes.Persistence;
using Hermes.Persistence.Hosting;
using Hermes.Persistence.Operations;
using Hermes.ServiceDefaults;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Operations;

public sealed class RetentionServiceTests : OperationsTest
{
    // The schedule is the worker's clock (a FakeTimeProvider moved by hand); the age of a row is the server's now().
    // The clock carries three timers, created in no fixed order since each service's ExecuteAsync runs on the thread
    // pool: the partition maintenance's hour, the retention's first delay, then (after the first run has begun) its
    // interval. Moving the clock before the first delay exists would leave that delay waiting for good.
    private const int BothWaiting = 2;
    private const int IntervalWaiting = 3;

    [Test]
    public async Task The_worker_purges_old_delivered_rows_on_its_schedule()
    {
        var now = DateTimeOffset.UtcNow;
        var old = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-3));
        var recent = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddHours(-1));
        var clock = new TestClock();
        using var host = Build(clock, ("Retention:Period", "1.00:00:00"));

        await host.StartAsync();
        try
        {
            await clock.TimersCreatedAsync(BothWaiting);
            clock.Advance(TimeSpan.FromSeconds(4));
            Assert.That(await OutboxRowsAsync(old.OutboxId), Is.EqualTo(1), "nothing is purged before the first run (5 s after the start)");

            clock.Advance(TimeSpan.FromSeconds(1));
            await WaitUntilAsync(async () => await OutboxRowsAsync(old.OutboxId) == 0, "the first run purges the old row");
            Assert.That(await OutboxRowsAsync(recent.OutboxId), Is.EqualTo(1));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(2));

            // And again an interval (an hour by default) later.
            var later = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-2));
            await clock.TimersCreatedAsync(IntervalWaiting);
            clock.Advance(TimeSpan.FromHours(1));
            await WaitUntilAsync(async () => await OutboxRowsAsync(later.OutboxId) == 0, "the next run purges the row that has aged since");
            Assert.That(await OutboxRowsAsync(recent.OutboxId), Is.EqualTo(1));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public async Task Switched_off_the_worker_never_purges()
    {
        var old = await AddLeadAsync(OutboxStatus.Delivered, createdAt: DateTimeOffset.UtcNow.AddDays(-30));
        var clock = new TestClock();
        using var host = Build(clock, ("Retention:Enabled", "false"));

        await host.StartAsync();
        var service = host.Services.GetServices<IHostedService>().OfType<RetentionService>().Single();
        await service.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(5));
        // The partition maintenance runs whether or not retention is on: its first run ends by waiting for the next.
        // Waited for, not assumed: on a busy machine that first run can outlast the start of this test.
        await clock.TimersCreatedAsync(1);
        var timers = clock.TimersCreated;
        clock.Advance(TimeSpan.FromDays(1));
        await host.StopAsync();

        Assert.That(service.ExecuteTask.IsCompletedSuccessfully, Is.True, "the service ends at once when switched off");
        Assert.That(timers, Is.EqualTo(1), "it never waited for a run: the one timer is the partition maintenance's");
        Assert.That(await OutboxRowsAsync(old.OutboxId), Is.EqualTo(1));
    }

    [Test]
    public async Task The_worker_creates_the_attempt_logs_days_ahead_even_with_retention_off()
    {
        await ExecuteAsync("""
            DO $$ DECLARE p text; BEGIN
                FOR p IN SELECT partition_name FROM hermes_attempt_partitions() WHERE starts_at > now() LOOP
                    EXECUTE format('DROP TABLE %I', p);
                END LOOP;
            END $$
            """);
        const string Ahead = "SELECT count(*) FROM hermes_attempt_partitions() WHERE starts_at > now()";
        Assert.That(await ScalarAsync<long>(Ahead), Is.Zero);
        using var host = Build(new TestClock(), ("Retention:Enabled", "false"));

        await host.StartAsync();
        await WaitUntilAsync(async () => await ScalarAsync<long>(Ahead) == AttemptPartitions.DaysAhead, "the days ahead exist");
        await host.StopAsync();

        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE i.inhparent = 'hermes_delivery_attempts'::regclass AND c.reloptions @> ARRAY['autovacuum_vacuum_insert_scale_factor=0.05']"),
            Is.EqualTo(await ScalarAsync<long>("SELECT count(*) FROM hermes_attempt_partitions()")), "every day carries the hot table's autovacuum settings");
    }

    [Test]
    public async Task A_failing_purge_is_retried_at_the_next_interval()
    {
        var old = await AddLeadAsync(OutboxStatus.Delivered, createdAt: DateTimeOffset.UtcNow.AddDays(-30));
        await ExecuteAsync("ALTER TABLE hermes_delivery_attempts RENAME TO hermes_delivery_attempts_away");
        var clock = new TestClock();
        var logs = new CapturedLogs();
        using var host = Build(clock, logs, ("Retention:Interval", "00:10:00"));
        await host.StartAsync();
        try
        {
            await clock.TimersCreatedAsync(BothWaiting);
            clock.Advance(TimeSpan.FromSeconds(5));
            await WaitUntilAsync(() => Task.FromResult(logs.Entries.Any(static e => e.StartsWith("Warning 5002:", StringComparison.Ordinal))), "the first purge fails");
            Assert.That(await OutboxRowsAsync(old.OutboxId), Is.EqualTo(1), "the purge cannot run yet");
            await ExecuteAsync("ALTER TABLE hermes_delivery_attempts_away RENAME TO hermes_delivery_attempts");

            await clock.TimersCreatedAsync(IntervalWaiting);
            clock.Advance(TimeSpan.FromMinutes(10));
            await WaitUntilAsync(async () => await OutboxRowsAsync(old.OutboxId) == 0, "the next interval's purge succeeds once the table is back");
            Assert.That(logs.Entries.Count(static e => e.StartsWith("Warning 5002:", StringComparison.Ordinal)), Is.EqualTo(1), "one failure, logged once");
        }
        finally
        {
            await host.StopAsync();
            await ExecuteAsync("ALTER TABLE IF EXISTS hermes_delivery_attempts_away RENAME TO hermes_delivery_attempts");
        }
    }

    [TestCase("Retention:Period", "-1.00:00:00", "Retention:Period")]
    [TestCase("Retention:Interval", "00:00:00", "Retention:Interval")]
    [TestCase("Retention:Period", "a week", "Retention:Period")]
    [TestCase("Retention:AuditPeriod", "29.00:00:00", "Retention:AuditPeriod must be at least 30 days")]
    public async Task A_bad_retention_setting_stops_the_worker_naming_the_key(string key, string value, string named)
    {
        using var host = Build((key, value));
        var e = await Assert.CatchAsync(() => host.StartAsync());
        Assert.That(e!.Message, Does.Contain(named));
    }

    [Test]
    public void The_defaults_keep_a_week_and_purge_hourly()
    {
        using var host = Build();
        var options = host.Services.GetRequiredService<IOptions<RetentionOptions>>().Value;
        Assert.That((options.Enabled, options.Period, options.Interval, options.AuditPeriod), Is.EqualTo((true, TimeSpan.FromDays(7), TimeSpan.FromHours(1), TimeSpan.FromDays(400))));
    }

    [Test]
    public async Task The_worker_purges_audit_entries_past_the_audit_period_and_keeps_the_rest()
    {
        await ExecuteAsync("""
            INSERT INTO hermes_audit (at, actor, action, outcome) VALUES
                (now() - interval '90 days', 'cli:retention-old', 'seed', 'succeeded'),
                (now() - interval '20 days', 'cli:retention-young', 'seed', 'succeeded')
            """);
        var clock = new TestClock();
        using var host = Build(clock, ("Retention:AuditPeriod", "60.00:00:00"));

        await host.StartAsync();
        try
        {
            await clock.TimersCreatedAsync(BothWaiting);
            clock.Advance(TimeSpan.FromSeconds(5));
            await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE actor = 'cli:retention-old'") == 0,
                "the first run purges the entry older than Retention:AuditPeriod", TimeSpan.FromSeconds(60)); // a busy run: the first purge also drops the attempt log's old days
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE actor = 'cli:retention-young'"), Is.EqualTo(1));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private Task<long> OutboxRowsAsync(long outboxId) => ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", outboxId);

    private IHost Build(params (string Key, string Value)[] settings) => Build(TimeProvider.System, null, settings);

    private IHost Build(TimeProvider clock, params (string Key, string Value)[] settings) => Build(clock, null, settings);

    private IHost Build(TimeProvider clock, CapturedLogs? logs, params (string Key, string Value)[] settings)
    {
        var connectionString = ConnectionString;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Staging", DisableDefaults = true });
        builder.Services.AddSingleton(clock);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.Configuration.AddInMemoryCollection(
            new[] { new KeyValuePair<string, string?>("ConnectionStrings:Hermes", connectionString) }
                .Concat(settings.Select(static s => new KeyValuePair<string, string?>(s.Key, s.Value))));
        builder.AddHermesPersistence("hermes-retention-test");
        builder.AddHermesRetention();
        return builder.Build();
    }
}
