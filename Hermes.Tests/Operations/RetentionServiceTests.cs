using Hermes.Domain;
using Hermes.Outbox.Worker.Retention;
using Hermes.Persistence;
using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Operations;

public sealed class RetentionServiceTests : OperationsTest
{
    [Test]
    public async Task The_worker_purges_old_delivered_rows_on_its_schedule()
    {
        var now = DateTimeOffset.UtcNow;
        var old = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-3));
        var recent = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddHours(-1));
        using var host = Build(("Retention:Period", "1.00:00:00"), ("Retention:Interval", "00:00:00.200"));

        await host.StartAsync();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", old.OutboxId) > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", old.OutboxId), Is.Zero, "purged within the interval");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", recent.OutboxId), Is.EqualTo(1));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(2));

            // And again on the next tick.
            var later = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-2));
            deadline = DateTime.UtcNow.AddSeconds(10);
            while (await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", later.OutboxId) > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", later.OutboxId), Is.Zero);
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
        using var host = Build(("Retention:Enabled", "false"), ("Retention:Interval", "00:00:00.100"));

        await host.StartAsync();
        var service = host.Services.GetServices<IHostedService>().OfType<RetentionService>().Single();
        await service.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(5));
        await host.StopAsync();

        Assert.That(service.ExecuteTask.IsCompletedSuccessfully, Is.True, "the service ends at once when switched off");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", old.OutboxId), Is.EqualTo(1));
    }

    [Test]
    public async Task A_failing_purge_is_retried_at_the_next_interval()
    {
        var old = await AddLeadAsync(OutboxStatus.Delivered, createdAt: DateTimeOffset.UtcNow.AddDays(-30));
        await ExecuteAsync("ALTER TABLE hermes_delivery_attempts RENAME TO hermes_delivery_attempts_away");
        using var host = Build(("Retention:Interval", "00:00:00.100"));
        await host.StartAsync();
        try
        {
            await Task.Delay(400);
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", old.OutboxId), Is.EqualTo(1), "the purge cannot run yet");
            await ExecuteAsync("ALTER TABLE hermes_delivery_attempts_away RENAME TO hermes_delivery_attempts");

            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", old.OutboxId) > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", old.OutboxId), Is.Zero, "purged once the table came back");
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
    public void A_bad_retention_setting_stops_the_worker_naming_the_key(string key, string value, string named)
    {
        using var host = Build((key, value));
        var e = Assert.CatchAsync(() => host.StartAsync());
        Assert.That(e!.Message, Does.Contain(named));
    }

    [Test]
    public void The_defaults_keep_a_week_and_purge_hourly()
    {
        using var host = Build();
        var options = host.Services.GetRequiredService<IOptions<RetentionOptions>>().Value;
        Assert.That((options.Enabled, options.Period, options.Interval), Is.EqualTo((true, TimeSpan.FromDays(7), TimeSpan.FromHours(1))));
    }

    private IHost Build(params (string Key, string Value)[] settings) => Build(ConnectionString, settings);

    private static IHost Build(string connectionString, params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Staging", DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(
            new[] { new KeyValuePair<string, string?>("ConnectionStrings:Hermes", connectionString) }
                .Concat(settings.Select(static s => new KeyValuePair<string, string?>(s.Key, s.Value))));
        builder.AddHermesPersistence("hermes-retention-test");
        builder.AddHermesRetention();
        return builder.Build();
    }
}
