using System.Net;
using System.Net.Http.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace Hermes.Tests.Operations;

/// <summary>
/// The audit trail (<c>hermes_audit</c>): what each operator path appends, that an action and its entry commit or fail
/// together, that the table is append-only for everyone, and that retention never takes an entry under 30 days old.
/// </summary>
[NonParallelizable] // one test adds a trigger that refuses every append, which would fail the other tests' actions
public sealed class AuditTests : OperationsTest
{
    private const string Key = "audit-test-key-0123456789abcdef-0123456789";

    [Test]
    public async Task Every_cli_verb_that_changes_data_appends_one_entry_naming_the_user_and_never_the_address()
    {
        var mark = await MarkAsync();
        var erased = await AddLeadAsync(OutboxStatus.Failed, email: "Ada.Audit@example.com");
        var failed = await AddLeadAsync(OutboxStatus.Failed);
        var user = AuditActor.ForCli().Value;

        Assert.That((await CliAsync("erase", "--yes", "--email", "ada.audit@example.com")).ExitCode, Is.Zero);
        Assert.That((await CliAsync("erase", "--yes", "--lead", "lead_nobody")).ExitCode, Is.Not.Zero);
        Assert.That((await CliAsync("replay", "--dry-run")).ExitCode, Is.Zero);
        Assert.That((await CliAsync("replay", "--yes")).ExitCode, Is.Zero);
        Assert.That((await CliAsync("purge", "--yes", "--older-than", "1d")).ExitCode, Is.Zero);
        Assert.That((await CliAsync("seed", "--yes", "--count", "3")).ExitCode, Is.Zero);
        Assert.That((await CliAsync("migrate")).ExitCode, Is.Zero);

        var entries = await EntriesAsync(mark);
        Assert.That(entries.Select(static e => (e.Action, e.Outcome)), Is.EqualTo(new[]
        {
            ("erase", "succeeded"), ("erase", "refused"), ("replay_dry_run", "succeeded"), ("replay", "succeeded"),
            ("purge", "succeeded"), ("seed", "succeeded"), ("migrate", "succeeded"),
        }));
        Assert.That(entries.Select(static e => e.Actor).Distinct(), Is.EqualTo(new[] { user }), "the CLI names the operating-system user");
        Assert.That(user, Does.Match("^cli:[A-Za-z0-9._@-]+$"));
        Assert.That(entries.Select(static e => e.DbLogin).Distinct(), Is.EqualTo(new[] { await ScalarAsync<string>("SELECT session_user::text") }));

        Assert.That(entries[0].LeadIds, Is.EqualTo(new[] { erased.LeadId }));
        Assert.That(entries[0].Detail, Does.Contain("\"by\": \"email\"").And.Contain("\"erased\": 1"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE detail::text ILIKE '%ada%' OR array_to_string(lead_ids, ',') ILIKE '%ada%'"), Is.Zero,
            "the trail never holds the erased address");
        Assert.That(entries[1].LeadIds, Is.Empty);
        Assert.That(entries[2].LeadIds, Is.EqualTo(new[] { failed.LeadId }), "the dry run names what it would replay (the erased lead is not replayable)");
        Assert.That(entries[2].Detail, Does.Contain("\"rows\": 1"));
        Assert.That(entries[3].LeadIds, Is.EqualTo(new[] { failed.LeadId }));
        Assert.That(entries[3].LeadCount, Is.EqualTo(1));
        Assert.That(entries[3].Detail, Does.Contain("\"rows\": 1").And.Contain("\"status\": \"failed\""));
        Assert.That(entries[4].Detail, Does.Contain("\"outboxRows\": 0").And.Contain("\"attemptLogs\": 0"), "a purge that deleted nothing says so");
        Assert.That(entries[5].Detail, Does.Contain("\"leads\": 3"));
        Assert.That(entries[6].Detail, Does.Contain("\"applied\": []").And.Contain($"\"current\": \"{Hermes.Persistence.MigrationHistory.All[^1]}\""), "the newest migration");
    }

    [Test]
    public async Task An_action_whose_entry_cannot_be_written_does_not_happen()
    {
        var lead = await AddLeadAsync(OutboxStatus.Failed, email: "grace.audit@example.com");
        var actor = AuditActor.ForCli("tester");
        await ExecuteAsync("""
            CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$;
            CREATE TRIGGER test_refuse_audit BEFORE INSERT ON hermes_audit FOR EACH ROW EXECUTE FUNCTION test_refuse_audit();
            """);
        try
        {
            await Assert.ThrowsAsync<PostgresException>(() => new LeadErasure(DataSource).EraseAsync(new ErasureRequest(null, lead.LeadId), CancellationToken.None, actor));
            await Assert.ThrowsAsync<PostgresException>(() => new OutboxReplay(DataSource).ReplayAsync(new ReplayRequest(), CancellationToken.None, actor));
            await Assert.ThrowsAsync<PostgresException>(() => new LeadSeeder(DataSource).SeedAsync(5, CancellationToken.None, actor: actor));
        }
        finally
        {
            await ExecuteAsync("DROP TRIGGER test_refuse_audit ON hermes_audit; DROP FUNCTION test_refuse_audit();");
        }

        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("grace.audit@example.com"), "not erased");
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("failed"), "not replayed");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(1), "not seeded");

        // And without the trigger the same calls go through, each with its entry.
        var mark = await MarkAsync();
        await new OutboxReplay(DataSource).ReplayAsync(new ReplayRequest(), CancellationToken.None, actor);
        await new LeadErasure(DataSource).EraseAsync(new ErasureRequest(null, lead.LeadId), CancellationToken.None, actor);
        Assert.That((await EntriesAsync(mark)).Select(static e => e.Action), Is.EqualTo(new[] { "replay", "erase" }));
    }

    [TestCase("UPDATE hermes_audit SET actor = 'cli:someone-else'")]
    [TestCase("DELETE FROM hermes_audit")]
    [TestCase("TRUNCATE hermes_audit")]
    public async Task The_trail_refuses_change_and_deletion_even_to_its_owner(string sql)
    {
        await new AuditTrail(DataSource).AppendAsync(AuditActor.ForCli("tester"), AuditAction.Seed, [], null, CancellationToken.None);
        var before = await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE actor = 'cli:tester'");

        var refused = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(sql));

        Assert.That(refused!.SqlState, Is.EqualTo(PostgresErrorCodes.InsufficientPrivilege));
        Assert.That(refused.MessageText, Does.Contain("hermes_audit is append-only"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE actor = 'cli:tester'"), Is.EqualTo(before));
    }

    [Test]
    public async Task Retention_deletes_only_entries_past_the_period_and_never_one_under_30_days_old()
    {
        await ExecuteAsync("""
            INSERT INTO hermes_audit (at, actor, action, outcome) VALUES
                (now() - interval '500 days', 'cli:old', 'seed', 'succeeded'),
                (now() - interval '40 days', 'cli:month', 'seed', 'succeeded'),
                (now() - interval '10 days', 'cli:recent', 'seed', 'succeeded')
            """);
        var trail = new AuditTrail(DataSource);

        var first = await trail.PurgeAsync(TimeSpan.FromDays(400), CancellationToken.None);
        var second = await trail.PurgeAsync(TimeSpan.FromDays(1), CancellationToken.None);

        Assert.That(first, Is.EqualTo(1), "only the entry older than 400 days");
        Assert.That(second, Is.EqualTo(1), "asked for 1 day, the function keeps 30: only the 40-day-old entry goes");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE actor IN ('cli:old', 'cli:month')"), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE actor = 'cli:recent'"), Is.EqualTo(1));
        await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync("DELETE FROM hermes_audit WHERE actor = 'cli:recent'"), "outside the function, deletion stays refused");
    }

    [TestCase("ordinary-user", "cli:ordinary-user")]
    [TestCase("Jürgen O'Brien; DROP TABLE", "cli:J_rgen_O_Brien__DROP_TABLE")]
    [TestCase("", "cli:unknown")]
    public void A_cli_user_name_is_kept_to_plain_characters(string name, string expected) =>
        Assert.That(AuditActor.ForCli(name).Value, Is.EqualTo(expected));

    [Test]
    public async Task The_admin_api_names_the_key_by_its_id_and_lists_the_trail_newest_first_by_lead()
    {
        await using var factory = new WebApplicationFactory<Hermes.Admin.AdminProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("ConnectionStrings:Hermes", ConnectionString);
            builder.UseSetting("DATABASE_URL", "");
            builder.UseSetting("HERMES_ADMIN_API_KEY", Key);
        });
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", Key);
        var a = await AddLeadAsync(OutboxStatus.Failed);
        var b = await AddLeadAsync(OutboxStatus.Delivered);

        using (var replay = await client.PostAsJsonAsync("/api/admin/outbox/replay", new { leadIds = new[] { a.LeadId } }))
        {
            Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        using (var erase = await client.PostAsJsonAsync("/api/admin/leads/erase", new { leadId = b.LeadId }))
        {
            Assert.That(erase.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var page = await client.GetFromJsonAsync("/api/admin/audit?limit=1", OperationsJsonContext.Default.AuditPage);
        var older = await client.GetFromJsonAsync($"/api/admin/audit?limit=1&cursor={page!.NextCursor}", OperationsJsonContext.Default.AuditPage);
        var ofA = await client.GetFromJsonAsync($"/api/admin/audit?leadId={a.LeadId}", OperationsJsonContext.Default.AuditPage);
        using var bad = await client.GetAsync("/api/admin/audit?limit=0");

        Assert.That(page.Entries.Single().Action, Is.EqualTo("erase"));
        Assert.That(page.Entries.Single().LeadIds, Is.EqualTo(new[] { b.LeadId }));
        Assert.That(older!.Entries.Single().Action, Is.EqualTo("replay"));
        Assert.That(ofA!.Entries.Select(static e => e.Action), Is.EqualTo(new[] { "replay" }));
        Assert.That(page.Entries[0].Actor, Does.Match("^key:[0-9a-f]{16}$"));
        Assert.That(older.Entries[0].Actor, Is.EqualTo(page.Entries[0].Actor));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE actor LIKE $1 OR detail::text LIKE $1", "%" + Key[..20] + "%"), Is.Zero, "never the key itself");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await bad.Content.ReadAsStringAsync(), Does.Contain("limit"));
    }

    private Task<long> MarkAsync() => ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM hermes_audit");

    private async Task<List<Entry>> EntriesAsync(long after)
    {
        var entries = new List<Entry>();
        await using var command = DataSource.CreateCommand(
            "SELECT actor, db_login, action, outcome, lead_ids, lead_count, detail::text FROM hermes_audit WHERE id > $1 ORDER BY id");
        command.Parameters.AddWithValue(after);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            entries.Add(new Entry(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetFieldValue<string[]>(4), reader.GetInt64(5),
                reader.GetString(6)));
        }

        return entries;
    }

    private sealed record Entry(string Actor, string DbLogin, string Action, string Outcome, string[] LeadIds, long LeadCount, string Detail);
}
