using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hermes.Persistence.Operations;
using Hermes.Persistence.Roles;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Observability;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Hermes.Tests.Security;

/// <summary>The least-privilege roles of <c>deploy/postgres/roles.sql</c>, used by the real hosts against the real database.</summary>
public sealed class DatabaseRoleTests : WorkerTest, IAsyncDisposable
{
    private readonly DatabaseLogins _logins = new();
    private string _api = "";
    private string _worker = "";
    private string _admin = "";
    private string _nobody = "";

    [OneTimeSetUp]
    public async Task ApplyRolesAndCreateLoginsAsync()
    {
        await DatabaseRoles.ApplyAsync(DataSource, CancellationToken.None);
        _api = await _logins.CreateAsync(ConnectionString, DatabaseRoles.Api);
        _worker = await _logins.CreateAsync(ConnectionString, DatabaseRoles.Worker);
        _admin = await _logins.CreateAsync(ConnectionString, DatabaseRoles.Admin);
        _nobody = await _logins.CreateAsync(ConnectionString, group: null);
    }

    [OneTimeTearDown]
    public async Task DropLoginsAsync() => await _logins.DisposeAsync();

    public async ValueTask DisposeAsync() => await _logins.DisposeAsync();

    [Test]
    public async Task Api_role_submits_a_lead_and_replays_it_through_the_real_api()
    {
        await using var factory = new HermesApiFactory(_api);
        using var client = factory.CreateApiClient();
        var body = JsonSerializer.SerializeToNode(TestData.ValidForm(), JsonSerializerOptions.Web)!;

        using var first = await PostAsync(client, body, "role-test-key-1");
        using var replay = await PostAsync(client, body, "role-test-key-1");

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created), await first.Content.ReadAsStringAsync());
        Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.Created), await replay.Content.ReadAsStringAsync());
        Assert.That(replay.Headers.Contains("Idempotent-Replayed"), Is.True);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(1));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(1));
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads"), Is.EqualTo(TestData.ValidForm().Email));
    }

    [Test]
    public async Task The_admin_role_keeps_the_console_key_ring_which_no_other_role_reads()
    {
        await using var admin = new HermesAdminFactory(_admin, "role-test-admin-key-0123456789abcdef");
        var protector = admin.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("role-test");

        var token = protector.Protect("opened on every replica");

        Assert.Multiple(async () =>
        {
            Assert.That(protector.Unprotect(token), Is.EqualTo("opened on every replica"));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_console_keys WHERE xml LIKE '%<key %'"), Is.GreaterThanOrEqualTo(1),
                "the key the admin login wrote, in the table every replica reads");
            Assert.That(await ScalarAsync<bool>("SELECT has_table_privilege('hermes_admin', 'hermes_console_keys', 'SELECT, INSERT')"), Is.True);
            Assert.That(await ScalarAsync<bool>("SELECT has_table_privilege('hermes_admin', 'hermes_console_keys', 'UPDATE')"), Is.False);
            Assert.That(await ScalarAsync<bool>("SELECT has_table_privilege('hermes_api', 'hermes_console_keys', 'SELECT')"), Is.False);
            Assert.That(await ScalarAsync<bool>("SELECT has_table_privilege('hermes_worker', 'hermes_console_keys', 'SELECT')"), Is.False);
        });
    }

    [Test]
    public async Task Readiness_passes_under_the_api_and_the_worker_role_and_fails_outside_the_groups()
    {
        await using var api = new HermesApiFactory(_api);
        using var apiClient = api.CreateApiClient();
        await using var worker = await ObservedWorker.StartAsync(_worker, Receiver.Url);
        await using var outsider = new HermesApiFactory(_nobody);
        using var outsiderClient = outsider.CreateApiClient();

        var (apiStatus, apiBody) = await GetAsync(apiClient, "/health/ready");
        var (workerStatus, workerBody) = await GetAsync(worker.Http, "/health/ready");
        var (outsiderStatus, outsiderBody) = await GetAsync(outsiderClient, "/health/ready");

        var latest = await ScalarAsync<string>("""SELECT max("MigrationId") FROM "__EFMigrationsHistory" """);
        Assert.Multiple(() =>
        {
            Assert.That(apiStatus, Is.EqualTo(HttpStatusCode.OK), apiBody);
            Assert.That(apiBody, Does.Contain($"\"schemaVersion\":\"{latest}\""));
            Assert.That(workerStatus, Is.EqualTo(HttpStatusCode.OK), workerBody);
            Assert.That(workerBody, Does.Contain($"\"schemaVersion\":\"{latest}\""));
            Assert.That(outsiderStatus, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "a login without a Hermes role is not ready: " + outsiderBody);
            Assert.That(outsiderBody, Does.Contain("42501"));
        });
    }

    [TestCase("SELECT email FROM hermes_leads")]
    [TestCase("SELECT * FROM hermes_leads")]
    [TestCase("SELECT payload FROM hermes_outbox")]
    [TestCase("SELECT error FROM hermes_delivery_attempts")]
    [TestCase("UPDATE hermes_leads SET status = 'x'")]
    [TestCase("DELETE FROM hermes_leads")]
    [TestCase("TRUNCATE hermes_leads CASCADE")]
    [TestCase("CREATE TABLE stolen (x int)")]
    public async Task Api_role_cannot_read_or_change_stored_leads(string sql)
    {
        await InsertLeadAsync();

        await AssertDeniedAsync(_api, sql);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE status = 'x'"), Is.Zero);
    }

    [Test]
    public async Task Worker_role_delivers_and_purges_with_its_grants_alone()
    {
        var (lead, _) = await InsertLeadAsync();
        await using var worker = await WorkerUnderTest.StartAsync(_worker, Receiver.Url, new Dictionary<string, string?>
        {
            ["Retention:Interval"] = "00:00:00.100",
            ["Retention:Period"] = "00:00:00.001",
        });

        // The purge may take the delivered row within milliseconds: watch the lead, which stays.
        await WaitUntilAsync(async () => await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId) == "forwarded", "the lead is forwarded");
        // The retention purge, run by the same role, deletes the delivered row and its attempt log.
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox") + await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts") == 0, "the delivered row and its attempt log are purged");

        Assert.That(Receiver.Count, Is.EqualTo(1));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("forwarded"));
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("4711"));
        Assert.That(await ScalarAsync<bool>("SELECT n8n_success FROM hermes_leads WHERE id = $1", lead.BackupId), Is.True);
        Assert.That(worker.Log.Where(static e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).Select(static e => e.Message), Is.Empty);
    }

    [Test]
    public async Task Worker_role_queues_an_erased_leads_late_erasure_and_records_the_CRMs_confirmation_with_its_grants_alone()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Receiver.Behaviour = async (request, context) =>
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(request.Body)!["type"]!.GetValue<string>() == "lead.erased")
            {
                await WebhookReceiver.Json(200, """{"erased": true}""")(context);
                return;
            }

            await release.Task;
            await WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context);
        };
        var (lead, _) = await InsertLeadAsync();
        await using var worker = await WorkerUnderTest.StartAsync(_worker, Receiver.Url, new Dictionary<string, string?> { ["Outbox:RequestTimeout"] = "00:00:08" });
        await Receiver.WaitForAsync(1);
        var erased = await new Hermes.Persistence.Operations.LeadErasure(DataSource).EraseAsync(new(null, lead.LeadId), CancellationToken.None);
        Assert.That(erased.Leads.Single().CrmErasure, Is.EqualTo("awaiting_delivery"));

        release.SetResult();

        // The worker's outcome statement records the late contact id and INSERTs the lead.erased row; then confirms it.
        await WaitUntilAsync(async () => await ScalarAsync<string?>("SELECT crm_erasure_state FROM hermes_leads WHERE id = $1", lead.BackupId) == "confirmed", "the CRM erasure is confirmed");
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("4711"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE lead_id = $1 AND type = 'lead.erased' AND status = 'delivered'", lead.BackupId), Is.EqualTo(1));
        Assert.That(worker.Log.Where(static e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).Select(static e => e.Message), Is.Empty);
    }

    [TestCase("UPDATE hermes_leads SET email = 'attacker@example.com'")]
    [TestCase("UPDATE hermes_leads SET first_name = 'Mallory'")]
    [TestCase("UPDATE hermes_leads SET problem_description = 'changed'")]
    [TestCase("UPDATE hermes_leads SET privacy_consent = false")]
    [TestCase("SELECT email FROM hermes_leads")]
    [TestCase("DELETE FROM hermes_leads")]
    [TestCase("INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description) VALUES ('x', 'a', 'b', 'c', 'd', 'e', 'f')")]
    public async Task Worker_role_cannot_change_or_read_form_fields(string sql)
    {
        var (lead, _) = await InsertLeadAsync();

        await AssertDeniedAsync(_worker, sql);
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(lead.Email));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(1));
    }

    [Test]
    public async Task Worker_role_may_write_the_tracking_columns()
    {
        var (lead, _) = await InsertLeadAsync();

        var changed = await ExecuteAsAsync(_worker, "UPDATE hermes_leads SET status = 'forwarded', brevo_contact_id = '9', n8n_success = true, processed_at = now() WHERE id = " + lead.BackupId);

        Assert.That(changed, Is.EqualTo(1));
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("9"));
    }

    [Test]
    public async Task Admin_role_runs_the_operator_cli()
    {
        var (lead, _) = await InsertLeadAsync();
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = "", ["ConnectionStrings:Hermes"] = _admin };

        using var output = new StringWriter();
        using var error = new StringWriter();
        var erase = await Hermes.Cli.OperatorCli.RunAsync(["erase", "--yes", "--lead", lead.LeadId], output, error, settings, CancellationToken.None);
        var doctor = await Hermes.Cli.OperatorCli.RunAsync(["stats"], output, error, settings, CancellationToken.None);

        Assert.That(erase, Is.Zero, $"{output}\n{error}");
        Assert.That(doctor, Is.Zero, $"{output}\n{error}");
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", lead.BackupId), Is.Not.EqualTo(lead.Email));
        await AssertDeniedAsync(_admin, "DROP TABLE hermes_delivery_attempts");
        await AssertDeniedAsync(_admin, "TRUNCATE hermes_outbox CASCADE");
    }

    [Test]
    public async Task The_audit_trail_is_appended_and_read_by_the_admin_role_only_and_changed_by_no_role()
    {
        var (lead, _) = await InsertLeadAsync();
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = "", ["ConnectionStrings:Hermes"] = _admin };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var erase = await Hermes.Cli.OperatorCli.RunAsync(["erase", "--yes", "--lead", lead.LeadId], output, error, settings, CancellationToken.None);
        Assert.That(erase, Is.Zero, $"{output}\n{error}");
        var adminLogin = new NpgsqlConnectionStringBuilder(_admin).Username;
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE action = 'erase' AND db_login = $1 AND $2 = ANY(lead_ids)", adminLogin!, lead.LeadId), Is.EqualTo(1),
            "the admin login appended the erase's entry");

        Assert.That(await ExecuteAsAsync(_admin, "SELECT count(*) FROM hermes_audit"), Is.EqualTo(-1), "the admin role reads the trail");
        await AssertDeniedAsync(_admin, "UPDATE hermes_audit SET outcome = 'refused'");
        await AssertDeniedAsync(_admin, "DELETE FROM hermes_audit");
        await AssertDeniedAsync(_admin, "TRUNCATE hermes_audit");
        await AssertDeniedAsync(_admin, "SELECT hermes_audit_purge(interval '30 days')");
        foreach (var login in new[] { _api, _worker, _nobody })
        {
            await AssertDeniedAsync(login, "SELECT id FROM hermes_audit");
            await AssertDeniedAsync(login, "INSERT INTO hermes_audit (actor, action, outcome) VALUES ('cli:x', 'seed', 'succeeded')");
        }

        // The worker's retention: the function, which keeps 30 days whatever it is asked.
        Assert.That(await ExecuteAsAsync(_worker, "SELECT hermes_audit_purge(interval '1 day')"), Is.EqualTo(-1));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE $1 = ANY(lead_ids)", lead.LeadId), Is.EqualTo(1), "a fresh entry survives any retention");
        await AssertDeniedAsync(_api, "SELECT hermes_audit_purge(interval '30 days')");
    }

    [Test]
    public async Task The_worker_runs_the_automatic_recovery_and_appends_only_the_systems_entry()
    {
        var (_, message) = await InsertLeadAsync();
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'failed', failure_class = 'outage', failed_at = now() WHERE id = $1", message.Id);
        await using var workerSource = NpgsqlDataSource.Create(_worker);

        var result = await new Hermes.Persistence.Operations.OutboxAutoRecovery(workerSource).RecoverAsync(TimeSpan.FromMinutes(5), 10, TimeSpan.Zero, "w", CancellationToken.None);

        Assert.That((result.Ran, result.Count), Is.EqualTo((true, 1L)));
        Assert.That(await ScalarAsync<string>("SELECT actor || ' ' || action || ' ' || db_login FROM hermes_audit WHERE id = $1", result.AuditId!.Value),
            Is.EqualTo($"system:auto-recover auto_recover {new NpgsqlConnectionStringBuilder(_worker).Username}"), "the worker's login, through the function");
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo("pending"));
        foreach (var login in new[] { _api, _admin, _nobody })
        {
            await AssertDeniedAsync(login, "SELECT hermes_audit_auto_recover(ARRAY[]::text[], 0, '{}')");
        }
    }

    [Test]
    public async Task The_worker_and_admin_roles_create_and_drop_the_attempt_logs_days_through_the_functions_only()
    {
        const string Ahead = "SELECT count(*) FROM hermes_attempt_partitions() WHERE starts_at > now()";
        await ExecuteAsync("SELECT hermes_attempt_partitions_ensure((now() AT TIME ZONE 'UTC')::date - 20, 3)");
        await ExecuteAsync("DO $$ DECLARE p text; BEGIN FOR p IN SELECT partition_name FROM hermes_attempt_partitions() WHERE starts_at > now() LOOP EXECUTE format('DROP TABLE %I', p); END LOOP; END $$");
        await using var workerSource = NpgsqlDataSource.Create(_worker);
        await using var adminSource = NpgsqlDataSource.Create(_admin);

        var round = await new AttemptPartitions(workerSource).EnsureAheadAsync(CancellationToken.None);
        var dropped = await new AttemptPartitions(adminSource).DropOlderThanAsync(TimeSpan.FromDays(7), CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(round, Is.EqualTo(new PartitionMaintenance(true, AttemptPartitions.DaysAhead)));
            Assert.That(await ScalarAsync<long>(Ahead), Is.EqualTo(AttemptPartitions.DaysAhead));
            Assert.That(await ScalarAsync<string>("SELECT DISTINCT pg_get_userbyid(c.relowner)::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'hermes_delivery_attempts'::regclass"),
                Is.EqualTo(await ScalarAsync<string>("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'hermes_delivery_attempts'")), "the days belong to the table's owner, not the worker");
            Assert.That(dropped.Where(static d => d.Dropped).Select(static d => d.Name), Has.Exactly(3).Items);
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_attempt_partitions() WHERE ends_at <= now() - interval '7 days'"), Is.Zero);
        });
        var tomorrow = await ScalarAsync<string>("SELECT partition_name FROM hermes_attempt_partitions() WHERE starts_at > now() ORDER BY starts_at LIMIT 1");
        foreach (var login in new[] { _worker, _admin })
        {
            await AssertDeniedAsync(login, $"DROP TABLE {tomorrow}");
            await AssertDeniedAsync(login, "CREATE TABLE hermes_delivery_attempts_p29990101 PARTITION OF hermes_delivery_attempts FOR VALUES FROM ('2999-01-01') TO ('2999-01-02')");
        }

        foreach (var login in new[] { _api, _nobody })
        {
            await AssertDeniedAsync(login, "SELECT hermes_attempt_partitions_ensure(current_date, 1)");
            await AssertDeniedAsync(login, "SELECT * FROM hermes_attempt_partitions_drop(interval '7 days')");
        }
    }

    [Test]
    public async Task A_worker_whose_maintenance_never_ran_creates_the_missing_day_itself_loses_no_attempt_and_says_so()
    {
        // No day from today on, and the maintenance's lock held elsewhere, so that its rounds skip: what a database looks
        // like when no worker has run the maintenance for a week.
        await ExecuteAsync("DO $$ DECLARE p text; BEGIN FOR p IN SELECT partition_name FROM hermes_attempt_partitions() WHERE ends_at > now() LOOP EXECUTE format('DROP TABLE %I', p); END LOOP; END $$");
        await using var holder = await DataSource.OpenConnectionAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_lock($1)", holder))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = AttemptPartitions.LockKey });
            await hold.ExecuteNonQueryAsync();
        }

        var (lead, message) = await InsertLeadAsync();
        await using var worker = await WorkerUnderTest.StartAsync(_worker, Receiver.Url);
        await WaitUntilAsync(async () => await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId) == "forwarded", "the lead is forwarded");

        Assert.Multiple(async () =>
        {
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE outbox_id = $1 AND outcome = 'delivered'", message.Id), Is.EqualTo(1), "the attempt is logged");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_attempt_partitions() WHERE starts_at <= now() AND ends_at > now()"), Is.EqualTo(1), "today's day exists");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_attempt_partitions() WHERE starts_at > now()"), Is.Zero, "the maintenance did not run: only the needed day was made");
            Assert.That(worker.Log.Where(static e => e.EventId == 4060 && e.Level == Microsoft.Extensions.Logging.LogLevel.Error), Has.Exactly(1).Items, "an error says what happened");
            Assert.That(Receiver.Count, Is.EqualTo(1), "delivered once");
        });
    }

    [TestCase("SELECT id FROM hermes_leads")]
    [TestCase("INSERT INTO hermes_outbox (lead_id, payload) VALUES (1, '{}')")]
    public async Task A_login_outside_the_groups_gets_nothing(string sql) => await AssertDeniedAsync(_nobody, sql);

    [Test]
    public async Task Script_is_idempotent_and_leaves_exactly_its_grants()
    {
        await DatabaseRoles.ApplyAsync(DataSource, CancellationToken.None);
        await ExecuteAsync("GRANT SELECT ON hermes_leads TO hermes_api"); // a stray grant an earlier version or a DBA left
        await DatabaseRoles.ApplyAsync(DataSource, CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(await ColumnPrivilegeAsync("hermes_api", "email", "SELECT"), Is.False);
            Assert.That(await ColumnPrivilegeAsync("hermes_api", "request_hash", "SELECT"), Is.True);
            Assert.That(await ColumnPrivilegeAsync("hermes_worker", "email", "UPDATE"), Is.False);
            Assert.That(await ColumnPrivilegeAsync("hermes_worker", "n8n_response_data", "UPDATE"), Is.True);
            Assert.That(await ColumnPrivilegeAsync("hermes_admin", "email", "UPDATE"), Is.True);
        });
    }

    [Test]
    public async Task Migrate_with_roles_applies_the_script()
    {
        await ExecuteAsync("REVOKE ALL ON hermes_leads, hermes_outbox FROM hermes_api");
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = "", ["ConnectionStrings:Hermes"] = ConnectionString };
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await Hermes.Cli.OperatorCli.RunAsync(["migrate", "--roles"], output, error, settings, CancellationToken.None);

        Assert.That(exit, Is.Zero, $"{output}\n{error}");
        Assert.That(output.ToString(), Does.Contain("hermes_api, hermes_worker, hermes_admin"));
        Assert.That(await ScalarAsync<bool>("SELECT has_table_privilege('hermes_api', 'hermes_leads', 'INSERT')"), Is.True);
    }

    [Test]
    public void Embedded_script_is_the_deployed_file()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "deploy", "postgres", "roles.sql")))
        {
            directory = directory.Parent;
        }

        Assert.That(directory, Is.Not.Null, "deploy/postgres/roles.sql not found above the test directory");
        Assert.That(DatabaseRoles.Script, Is.EqualTo(File.ReadAllText(Path.Combine(directory!.FullName, "deploy", "postgres", "roles.sql"))));
        var statements = string.Join('\n', DatabaseRoles.Script.Split('\n').Where(static l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal)));
        Assert.That(statements, Does.Not.Contain("ALTER SYSTEM").And.Not.Contain("SUPERUSER").And.Not.Contain("PASSWORD"), "runnable on managed PostgreSQL, no credentials");
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, System.Text.Json.Nodes.JsonNode body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        return client.SendAsync(request);
    }

    private Task<bool> ColumnPrivilegeAsync(string role, string column, string privilege) =>
        ScalarAsync<bool>("SELECT has_column_privilege($1, 'hermes_leads', $2, $3)", role, column, privilege);

    private static async Task<int> ExecuteAsAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteNonQueryAsync();
    }

    private static async Task AssertDeniedAsync(string connectionString, string sql)
    {
        var denied = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsAsync(connectionString, sql), sql);
        Assert.That(denied!.SqlState, Is.EqualTo(PostgresErrorCodes.InsufficientPrivilege), $"{sql}: {denied.MessageText}");
    }
}
