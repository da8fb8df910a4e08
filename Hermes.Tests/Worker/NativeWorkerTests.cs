using System.Net;
using System.Text.Json;
using Hermes.Persistence;
using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Worker;

/// <summary>
/// The native (Native AOT) worker, published as docs/outbox-worker.md, "The native worker", says and run as a process: what reflection-free code must
/// still do — bind and validate its configuration, deliver and sign, record outcomes, answer its probes with the
/// migrations it was built with — and what it leaves to the .NET build (the operator verbs).
/// </summary>
public sealed class NativeWorkerTests : WorkerTest
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Two tests take the latest migration out of the history: each test starts with all of it.</summary>
    [SetUp]
    public Task RestoreHistoryAsync() => ExecuteAsync(
        $"""INSERT INTO "{MigrationHistory.Table}" ("MigrationId", "ProductVersion") SELECT $1, "ProductVersion" FROM "{MigrationHistory.Table}" LIMIT 1 ON CONFLICT DO NOTHING""",
        MigrationHistory.All[^1]);

    [Test]
    public async Task The_native_worker_delivers_signs_records_and_stops_on_sigterm_with_exit_code_zero()
    {
        var executable = await NativeWorker.RequireAsync();
        var rows = await InsertLeadsAsync(40);
        await using var worker = Start(executable, new()
        {
            ["Outbox__WorkerId"] = "native-under-test",
            ["Outbox__BatchSize"] = "7",
            ["HERMES_WEBHOOK_SECRET"] = "whsec_" + Convert.ToBase64String("native-worker-test-secret-32-bytes!"u8),
        });
        await worker.WaitListeningAsync(TimeSpan.FromSeconds(30));

        await WaitForAllDeliveredAsync(rows.Count, TimeSpan.FromSeconds(30));
        var exitCode = await worker.TerminateAsync(TimeSpan.FromSeconds(20));

        Assert.Multiple(async () =>
        {
            Assert.That(Receiver.Requests.Select(static r => JsonDocument.Parse(r.Body).RootElement.GetProperty("leadId").GetString()).Distinct().Count(), Is.EqualTo(rows.Count));
            Assert.That(Receiver.Requests.All(static r => r.Header("webhook-signature")?.StartsWith("v1,", StringComparison.Ordinal) == true), "every delivery is signed");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE brevo_contact_id = '4711' AND n8n_success"), Is.EqualTo(rows.Count));
            // Bound from the environment by generated code: the id it was given, not the default (the host name).
            Assert.That(await ScalarAsync<string>("SELECT string_agg(DISTINCT worker_id, ',') FROM hermes_delivery_attempts"), Is.EqualTo("native-under-test"));
            Assert.That(exitCode, Is.Zero, worker.Output);
            Assert.That(worker.Output, Does.Not.Contain("Unhandled exception"));
        });
    }

    [Test]
    public async Task The_native_worker_answers_its_probes_with_the_migrations_it_was_built_with()
    {
        var executable = await NativeWorker.RequireAsync();
        await using var worker = Start(executable, []);
        var address = await worker.WaitListeningAsync(TimeSpan.FromSeconds(30));

        var current = await ReadyAsync(address);
        await ExecuteAsync($"""DELETE FROM "{MigrationHistory.Table}" WHERE "MigrationId" = $1""", MigrationHistory.All[^1]);
        var behind = await ReadyAsync(address);
        var metrics = await Http.GetStringAsync(new Uri(address, "/metrics"));

        Assert.Multiple(() =>
        {
            Assert.That(current.Status, Is.EqualTo(HttpStatusCode.OK), current.Body);
            Assert.That(current.Body, Does.Contain(MigrationHistory.All[^1]));
            Assert.That(current.Body, Does.Contain("\"pendingMigrations\":0"));
            Assert.That(behind.Body, Does.Contain("\"pendingMigrations\":1"), "the native build knows every migration");
            Assert.That(metrics, Does.Contain("hermes_outbox"));
        });
    }

    [TestCase("Outbox__BatchSize", "0", "Outbox:BatchSize")]
    [TestCase("Retention__Period", "-1.00:00:00", "Retention:Period")]
    public async Task A_bad_setting_stops_the_native_worker_naming_the_key(string variable, string value, string key)
    {
        var executable = await NativeWorker.RequireAsync();
        await using var worker = Start(executable, new() { [variable] = value });

        var exitCode = await worker.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.That(exitCode, Is.Not.Zero, worker.Output);
        Assert.That(worker.Output, Does.Contain(key));
    }

    private ChildProcess Start(string executable, Dictionary<string, string> settings)
    {
        var environment = new Dictionary<string, string>(settings)
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString),
            ["N8N_WEBHOOK_URL"] = Receiver.Url.ToString(),
            ["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = "5",
        };
        return ChildProcess.Start("native-worker", executable, environment);
    }

    private static async Task<(HttpStatusCode Status, string Body)> ReadyAsync(Uri address)
    {
        using var response = await Http.GetAsync(new Uri(address, "/health/ready"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
