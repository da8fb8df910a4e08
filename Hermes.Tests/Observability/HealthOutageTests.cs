using System.Net;
using System.Text.Json.Nodes;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Hermes.Tests.Api;
using Hermes.Tests.Worker;
using Npgsql;

namespace Hermes.Tests.Observability;

/// <summary>
/// Both hosts' health endpoints over a PostgreSQL of their own that the test stops and starts: ready and the
/// database endpoints go 503 while it is down (live stays 200), and come back without a restart.
/// </summary>
[NonParallelizable]
public sealed class HealthOutageTests
{
    [Test]
    public async Task Health_endpoints_follow_the_database_down_and_up_again()
    {
        await using var cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = false, StopWithProcessId = Environment.ProcessId }, CancellationToken.None);
        await cluster.CreateDatabaseAsync("hermes");
        var connectionString = new NpgsqlConnectionStringBuilder(cluster.ConnectionString("hermes")) { Timeout = 3 }.ConnectionString;
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        await using (var context = PersistenceExtensions.CreateContext(dataSource))
        {
            await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        }

        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = new HermesApiFactory(connectionString);
        using var client = api.CreateApiClient();
        await using var worker = await ObservedWorker.StartAsync(connectionString, receiver.Url);
        var password = new NpgsqlConnectionStringBuilder(connectionString).Password;

        async Task<(HttpStatusCode, JsonObject, string)> Get(HttpClient http, string path)
        {
            using var response = await http.GetAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, JsonNode.Parse(text)!.AsObject(), text);
        }

        var (readyUp, _, readyText) = await Get(client, "/health/ready");
        var (dbUp, db, dbText) = await Get(client, "/api/health/database");
        var (workerReadyUp, _, _) = await Get(worker.Http, "/health/ready");
        Assert.Multiple(() =>
        {
            Assert.That(readyUp, Is.EqualTo(HttpStatusCode.OK), readyText);
            Assert.That(dbUp, Is.EqualTo(HttpStatusCode.OK), dbText);
            Assert.That((string?)db["status"], Is.EqualTo("healthy"));
            Assert.That((string?)db["environment"], Is.EqualTo("Production"));
            Assert.That((string?)db["schemaVersion"], Is.EqualTo((string?)db["latestMigration"]).And.Not.Null);
            Assert.That((int?)db["pool"]!["maxPoolSize"], Is.EqualTo(new NpgsqlConnectionStringBuilder(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<NpgsqlDataSource>(api.Services).ConnectionString).MaxPoolSize));
            Assert.That((double?)db["latencyMs"], Is.GreaterThan(0));
            Assert.That(workerReadyUp, Is.EqualTo(HttpStatusCode.OK));
        });

        await cluster.StopAsync();
        var (liveDown, live, _) = await Get(client, "/health/live");
        var (readyDown, ready, readyDownText) = await Get(client, "/health/ready");
        var (dbDown, dbBody, dbDownText) = await Get(client, "/api/health/database");
        var (workerLive, _, _) = await Get(worker.Http, "/health/live");
        var (workerReady, _, workerReadyText) = await Get(worker.Http, "/health/ready");
        var (workerN8n, _, workerN8nText) = await Get(worker.Http, "/health/n8n");
        Assert.Multiple(() =>
        {
            Assert.That(liveDown, Is.EqualTo(HttpStatusCode.OK));
            Assert.That((string?)live["environment"], Is.EqualTo("Production"));
            Assert.That(readyDown, Is.EqualTo(HttpStatusCode.ServiceUnavailable), readyDownText);
            Assert.That((string?)ready["checks"]!["database"]!["status"], Is.EqualTo("Unhealthy"));
            Assert.That(dbDown, Is.EqualTo(HttpStatusCode.ServiceUnavailable), dbDownText);
            Assert.That((string?)dbBody["status"], Is.EqualTo("unhealthy"));
            Assert.That(workerLive, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(workerReady, Is.EqualTo(HttpStatusCode.ServiceUnavailable), workerReadyText);
            Assert.That(workerN8n, Is.EqualTo(HttpStatusCode.ServiceUnavailable), workerN8nText);
            foreach (var text in new[] { readyDownText, dbDownText, workerReadyText, workerN8nText })
            {
                Assert.That(text, Does.Not.Contain("Host=").And.Not.Contain("127.0.0.1").And.Not.Contain("Password"), "no connection details in health output");
                Assert.That(string.IsNullOrEmpty(password) || !text.Contains(password, StringComparison.Ordinal), Is.True, "no password");
            }
        });

        await cluster.StartAgainAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        HttpStatusCode again;
        do
        {
            await Task.Delay(100);
            (again, _, _) = await Get(client, "/health/ready");
        }
        while (again != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(15));

        var (workerAgain, _, _) = await Get(worker.Http, "/health/ready");
        Assert.Multiple(() =>
        {
            Assert.That(again, Is.EqualTo(HttpStatusCode.OK), "ready again without a restart");
            Assert.That(workerAgain, Is.EqualTo(HttpStatusCode.OK));
        });
    }
}
