using System.Net;
using System.Text.Json.Nodes;
using Hermes.Persistence;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Worker;

namespace Hermes.Tests.Observability;

/// <summary>
/// A database one migration behind the code: the API is not ready (it must not take traffic on an old schema) and
/// says which migration is missing; the worker stays ready (it needs only the columns it reads). Once the migration
/// is applied the API is ready again without a restart.
/// </summary>
public sealed class PendingMigrationHealthTests : DatabaseTest
{
    [Test]
    public async Task Api_is_not_ready_while_a_migration_is_pending_and_ready_once_it_is_applied()
    {
        string first, latest; // one behind, and the latest
        await using (var context = CreateContext())
        {
            var migrator = new HermesMigrator(context);
            (first, latest) = (migrator.All[^2], migrator.Latest);
            Assert.That(migrator.All, Has.Count.GreaterThan(1), "needs a second migration to leave pending");
            await migrator.MigrateAsync(first, CancellationToken.None);
        }

        await using var api = new HermesApiFactory(ConnectionString);
        using var client = api.CreateApiClient();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var worker = await ObservedWorker.StartAsync(ConnectionString, receiver.Url);

        var (readyStatus, ready, readyText) = await GetAsync(client, "/health/ready");
        var (databaseStatus, database, databaseText) = await GetAsync(client, "/api/health/database");
        var (workerStatus, _, workerText) = await GetAsync(worker.Http, "/health/ready");
        Assert.Multiple(() =>
        {
            Assert.That(readyStatus, Is.EqualTo(HttpStatusCode.ServiceUnavailable), readyText);
            Assert.That((string?)ready["checks"]!["database"]!["status"], Is.EqualTo("Unhealthy"));
            Assert.That((string?)ready["checks"]!["database"]!["description"], Does.Contain("1 migration(s) not applied").And.Contain("migrate"));
            Assert.That((int?)ready["checks"]!["database"]!["pendingMigrations"], Is.EqualTo(1));
            Assert.That((string?)ready["checks"]!["database"]!["schemaVersion"], Is.EqualTo(first));
            Assert.That(databaseStatus, Is.EqualTo(HttpStatusCode.ServiceUnavailable), databaseText);
            Assert.That((string?)database["status"], Is.EqualTo("degraded"));
            Assert.That((bool?)database["reachable"], Is.True);
            Assert.That((string?)database["schemaVersion"], Is.EqualTo(first));
            Assert.That((string?)database["latestMigration"], Is.EqualTo(latest));
            Assert.That((int?)database["pendingMigrations"], Is.EqualTo(1));
            Assert.That(workerStatus, Is.EqualTo(HttpStatusCode.OK), workerText);
        });

        await using (var context = CreateContext())
        {
            await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        }

        var (readyAgain, _, readyAgainText) = await GetAsync(client, "/health/ready");
        var (databaseAgain, databaseNow, _) = await GetAsync(client, "/api/health/database");
        Assert.Multiple(() =>
        {
            Assert.That(readyAgain, Is.EqualTo(HttpStatusCode.OK), readyAgainText);
            Assert.That(databaseAgain, Is.EqualTo(HttpStatusCode.OK));
            Assert.That((string?)databaseNow["status"], Is.EqualTo("healthy"));
            Assert.That((string?)databaseNow["schemaVersion"], Is.EqualTo(latest));
        });
    }

    private static async Task<(HttpStatusCode Status, JsonObject Body, string Text)> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject(), text);
    }
}
