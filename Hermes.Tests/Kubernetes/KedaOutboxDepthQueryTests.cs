using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Persistence.Outbox;
using Hermes.Persistence.Roles;
using Hermes.Tests.Security;
using Hermes.Tests.Worker;
using Npgsql;

namespace Hermes.Tests.Kubernetes;

/// <summary>
/// The workers' ScaledObject: its one query, as rendered, run against a real PostgreSQL by the login KEDA uses, with
/// outbox rows in every state; and the connection it is given (the Cluster's -rw service, the worker login's Secret).
/// </summary>
public sealed class KedaOutboxDepthQueryTests : WorkerTest
{
    private readonly DatabaseLogins _logins = new();

    [OneTimeTearDown]
    public async Task DropLoginsAsync() => await _logins.DisposeAsync();

    private static async Task<JsonObject> TriggerAsync(string overlay)
    {
        var scaledObject = Kustomize.Single(await Kustomize.ObjectsAsync(overlay), "ScaledObject", "hermes-worker");
        var trigger = scaledObject["spec"]!["triggers"]!.AsArray().Single()!.AsObject();
        Assert.That(trigger["type"]!.GetValue<string>(), Is.EqualTo("postgresql"));
        return trigger;
    }

    [Test]
    public async Task The_query_counts_due_leased_and_backing_off_rows_and_nothing_finished()
    {
        var query = (await TriggerAsync("production"))["metadata"]!["query"]!.GetValue<string>();
        var rows = await InsertLeadsAsync(7);
        var store = new OutboxStore(DataSource);
        var claimed = await store.ClaimAsync(5, TimeSpan.FromMinutes(5), "worker-1", CancellationToken.None);
        Assert.That(claimed.Select(static c => c.Id), Is.EqualTo(rows.Take(5).Select(static r => r.Message.Id)));
        var now = DateTimeOffset.UtcNow;
        AttemptOutcome Outcome(int i, string outcome) => new()
        {
            OutboxId = claimed[i].Id,
            BackupId = claimed[i].BackupId,
            Attempt = 1,
            Outcome = outcome,
            StartedAt = now,
            FinishedAt = now,
            StatusCode = outcome == DeliveryOutcomes.Delivered ? 200 : 503,
            Error = outcome == DeliveryOutcomes.Delivered ? null : "HTTP 503",
            RetryDelay = outcome == DeliveryOutcomes.Retry ? TimeSpan.FromMinutes(10) : null,
        };
        await store.CompleteAsync([Outcome(0, DeliveryOutcomes.Delivered), Outcome(1, DeliveryOutcomes.Failed), Outcome(2, DeliveryOutcomes.Retry)], [], "worker-1", CancellationToken.None);
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'cancelled' WHERE id = $1", rows[5].Message.Id);

        // What the database holds: one row in each finished state, two leased by a worker with their POSTs in flight,
        // one backing off before its retry, one due.
        Assert.That(await ScalarAsync<string>("""
            SELECT string_agg(CASE WHEN status <> 'pending' THEN status
                                   WHEN available_at <= now() THEN 'due'
                                   WHEN attempts = 1 AND last_error IS NULL THEN 'leased'
                                   ELSE 'backing-off' END, ',' ORDER BY id)
            FROM hermes_outbox
            """), Is.EqualTo("delivered,failed,backing-off,leased,leased,cancelled,due"));

        await DatabaseRoles.ApplyAsync(DataSource, CancellationToken.None);
        var keda = await _logins.CreateAsync(ConnectionString, DatabaseRoles.Worker);
        await using var connection = new NpgsqlConnection(keda);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(query, connection);
        var depth = Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);

        Assert.That(depth, Is.EqualTo(4), "due + leased + backing off, run by a login of the workers' group");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending' AND available_at <= now()"), Is.EqualTo(1),
            "a due-only count would read 1 while two rows are in flight: it would scale busy workers down");
    }

    [Test]
    public async Task Every_overlay_has_the_one_query_on_the_clusters_direct_service_with_the_worker_login()
    {
        var queries = new List<string>();
        foreach (var overlay in Kustomize.Overlays)
        {
            var objects = await Kustomize.ObjectsAsync(overlay);
            var scaledObject = Kustomize.Single(objects, "ScaledObject", "hermes-worker");
            var trigger = await TriggerAsync(overlay);
            var metadata = trigger["metadata"]!;
            var cluster = objects.Single(static o => Kustomize.KindOf(o) == "Cluster");
            var clusterName = Kustomize.NameOf(cluster);
            queries.Add(metadata["query"]!.GetValue<string>());

            Assert.That(scaledObject["spec"]!["scaleTargetRef"]!["name"]!.GetValue<string>(), Is.EqualTo("hermes-worker"), overlay);
            Assert.That(Kustomize.Single(objects, "Deployment", "hermes-worker")["spec"]!["replicas"], Is.Null, $"{overlay}: KEDA owns the worker count");
            Assert.That(scaledObject["spec"]!["minReplicaCount"]!.GetValue<int>(), Is.EqualTo(1), $"{overlay}: one worker stays up and LISTENs");
            Assert.That(scaledObject["spec"]!["maxReplicaCount"]!.GetValue<int>(), Is.GreaterThan(1), overlay);
            Assert.That(metadata["host"]!.GetValue<string>(), Is.EqualTo($"{clusterName}-rw.hermes.svc.cluster.local"), $"{overlay}: the primary, directly, never the Pooler");
            Assert.That(metadata["userName"]!.GetValue<string>(), Is.EqualTo("hermes_worker_login"), overlay);
            Assert.That(int.Parse(metadata["targetQueryValue"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), Is.Positive, overlay);

            var authentication = Kustomize.Single(objects, "TriggerAuthentication", trigger["authenticationRef"]!["name"]!.GetValue<string>());
            var password = authentication["spec"]!["secretTargetRef"]!.AsArray().Single()!;
            var role = cluster["spec"]!["managed"]!["roles"]!.AsArray().Single(static r => r!["name"]!.GetValue<string>() == "hermes_worker_login")!;
            Assert.That(password["parameter"]!.GetValue<string>(), Is.EqualTo("password"), overlay);
            Assert.That(password["name"]!.GetValue<string>(), Is.EqualTo(role["passwordSecret"]!["name"]!.GetValue<string>()), $"{overlay}: the Secret the Cluster sets the login's password from");
        }

        Assert.That(queries.Distinct(), Has.Exactly(1).Items, "one query, the same everywhere");
    }
}
