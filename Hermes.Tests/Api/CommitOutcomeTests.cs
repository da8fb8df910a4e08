using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Hermes.Persistence.Submissions;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Hermes.Tests.Api;

/// <summary>
/// The connection dies while a group commit's COMMIT is under way, so the API cannot know from it whether the
/// transaction committed: it looks the batch's leads up on another connection and answers each request with what is
/// there. Over a PostgreSQL of its own, because the first case needs a server-wide setting: a synchronous standby that
/// never connects (<c>synchronous_standby_names</c>), so a COMMIT that asks for it (<c>synchronous_commit = on</c>, set
/// by a test trigger for the marked lead's transaction only) is written locally and then waits; terminating that
/// backend then ends the connection after the commit and before its answer — the case where "nothing was stored"
/// would be a lie. In the second case a deferred test trigger ends the connection during COMMIT, before it commits.
/// One writer, held still (<see cref="HeldWriters"/>), so the three submissions queued behind it share one transaction.
/// </summary>
[NonParallelizable]
public sealed class CommitOutcomeTests : IAsyncDisposable
{
    private LocalPostgresCluster? _cluster;
    private NpgsqlDataSource? _dataSource;
    private HermesApiFactory? _factory;
    private HttpClient? _client;

    private NpgsqlDataSource DataSource => _dataSource!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = false, StopWithProcessId = Environment.ProcessId },
            CancellationToken.None);
        await _cluster.CreateDatabaseAsync("hermes");
        var connectionString = _cluster.ConnectionString("hermes");
        _dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var context = PersistenceExtensions.CreateContext(_dataSource))
        {
            await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        }

        // The cluster runs with synchronous_commit off (not durable); only the marked transaction asks for the standby.
        await ExecuteAsync("ALTER SYSTEM SET synchronous_standby_names = 'hermes_test_standby_that_never_connects'");
        await ExecuteAsync("SELECT pg_reload_conf()");
        await ExecuteAsync("""
            CREATE SEQUENCE test_marked_attempts;
            CREATE FUNCTION test_wait_for_standby() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                PERFORM nextval('test_marked_attempts');
                PERFORM set_config('synchronous_commit', 'on', true);
                RETURN NEW;
            END
            $fn$;
            CREATE TRIGGER test_wait_for_standby BEFORE INSERT ON hermes_leads FOR EACH ROW
                WHEN (NEW.company_name = 'Commit Lost Ltd') EXECUTE FUNCTION test_wait_for_standby();
            CREATE FUNCTION test_end_connection() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                PERFORM nextval('test_marked_attempts');
                PERFORM pg_terminate_backend(pg_backend_pid());
                PERFORM pg_sleep(30);
                RETURN NULL;
            END
            $fn$;
            CREATE CONSTRAINT TRIGGER test_end_connection AFTER INSERT ON hermes_leads DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                WHEN (NEW.company_name = 'Commit Refused Ltd') EXECUTE FUNCTION test_end_connection();
            """);

        _factory = new HermesApiFactory(connectionString, new Dictionary<string, string?>
        {
            ["Intake:GroupCommit:Writers"] = "1",
            ["Intake:GroupCommit:MaxBatch"] = "32",
        });
        _client = _factory.CreateApiClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        (_client, _factory, _dataSource, _cluster) = (null, null, null, null);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    [SetUp]
    public async Task EmptyTablesAsync()
    {
        await ExecuteAsync(DatabaseTest.EmptyLeadTablesSql);
        await ExecuteAsync("ALTER SEQUENCE test_marked_attempts RESTART");
    }

    [Test]
    public async Task A_connection_lost_after_the_commit_is_written_answers_each_request_with_its_stored_lead()
    {
        List<HttpResponseMessage> responses;
        var held = await HoldWriterAsync();
        await using (held)
        {
            var submitting = held.QueueAsync([Submission("First Ltd"), Submission("Commit Lost Ltd"), Submission("Third Ltd")]);

            // The batch's COMMIT is written locally and waits for the standby; end that backend there.
            long pid = 0;
            await DatabaseTest.WaitUntilAsync(
                async () => (pid = await ScalarAsync<long>("SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")) != 0,
                "the batch's COMMIT waits for the synchronous standby");
            await ExecuteAsync($"SELECT pg_terminate_backend({pid})");
            responses = await submitting;
        }

        var bodies = await Task.WhenAll(responses.Select(static async r => $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}"));
        var stored = await ScalarAsync<string[]>("SELECT array_agg(l.lead_id || '=' || l.id ORDER BY l.id) FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id WHERE l.company_name <> 'Held Ltd'");
        Assert.Multiple(async () =>
        {
            Assert.That(bodies.Select(static b => b[..3]), Is.All.EqualTo("201"), "the leads are stored: each request is told so\n" + string.Join("\n", bodies));
            Assert.That(stored, Has.Length.EqualTo(3), "the three leads and their outbox rows committed");
            Assert.That(bodies.Where(static b => b.StartsWith("201", StringComparison.Ordinal)).Select(static b => LeadAndBackupId(b[4..])), Is.EquivalentTo(stored),
                "each answer names its own lead and the id the database gave it");
            Assert.That(await ScalarAsync<long>("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_marked_attempts"), Is.EqualTo(1), "the batch was written once");
        });
        DisposeAll(responses.Concat(held.First));
    }

    [Test]
    public async Task A_connection_lost_during_a_commit_that_did_not_commit_answers_503_with_nothing_stored()
    {
        List<HttpResponseMessage> responses;
        var held = await HoldWriterAsync();
        await using (held)
        {
            responses = await held.QueueAsync([Submission("First Ltd"), Submission("Commit Refused Ltd"), Submission("Third Ltd")]);
        }

        var bodies = await Task.WhenAll(responses.Select(static async r => $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}"));
        Assert.Multiple(async () =>
        {
            Assert.That(bodies.Select(static b => b[..3]), Is.All.EqualTo("503"), string.Join("\n", bodies));
            Assert.That(bodies, Is.All.Contain("nothing was stored"));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE company_name <> 'Held Ltd'"), Is.Zero);
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(1), "the held writer's own row only");
            Assert.That(await ScalarAsync<long>("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_marked_attempts"), Is.EqualTo(1), "the batch was written once");
        });
        DisposeAll(responses.Concat(held.First));
    }

    private static string LeadAndBackupId(string json)
    {
        var answer = JsonNode.Parse(json)!;
        return $"{answer["leadId"]}={answer["backupId"]}";
    }

    private Task<HeldWriters> HoldWriterAsync() =>
        HeldWriters.HoldAsync(_factory!.Services.GetRequiredService<SubmissionStore>(), DataSource, 1, Submission("Held Ltd"));

    private Func<Task<HttpResponseMessage>> Submission(string companyName) => async () =>
    {
        var form = JsonSerializer.SerializeToNode(TestData.ValidForm(), JsonSerializerOptions.Web)!.AsObject();
        form["companyName"] = companyName;
        using var content = new StringContent(form.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        return await _client!.PostAsync(new Uri("/api/leads", UriKind.Relative), content);
    };

    private static void DisposeAll(IEnumerable<HttpResponseMessage> responses)
    {
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }
}
