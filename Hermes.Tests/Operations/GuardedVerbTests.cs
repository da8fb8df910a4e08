using System.Text.Json;
using Hermes.Cli;
using Hermes.Domain;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Operations;

/// <summary>
/// Every verb that deletes or rewrites data (erase, purge, replay, seed, and migrate when it rolls back) shows what it
/// would do with --dry-run, asks on a terminal, takes --yes from a script, and refuses without --yes when stdin is not
/// a terminal. The tests run the verbs in-process as <see cref="OperationsTest.CliAsync(string[])"/> does: no terminal
/// unless one is given.
/// </summary>
public sealed class GuardedVerbTests : OperationsTest
{
    [Test]
    public async Task Erase_off_a_terminal_without_yes_is_refused_and_erases_nothing()
    {
        var lead = await AddLeadAsync(OutboxStatus.Pending, email: "ada@example.com");

        var run = await CliAsync("erase", "--lead", lead.LeadId);

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Usage), run.ToString());
        Assert.That(run.Error, Does.Contain("--yes").And.Contain("not a terminal"));
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("ada@example.com"));
        Assert.That(await ScalarAsync<bool>("SELECT erased_at IS NULL FROM hermes_leads WHERE id = $1", lead.BackupId), Is.True);
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("pending"));
    }

    [Test]
    public async Task Erase_dry_run_lists_the_leads_and_their_pending_deliveries_and_changes_nothing()
    {
        var first = await AddLeadAsync(OutboxStatus.Pending, email: "Grace@example.com");
        var second = await AddLeadAsync(OutboxStatus.Delivered, email: "grace@example.com");
        await AddLeadAsync(OutboxStatus.Pending, email: "alan@example.com");

        var human = await CliAsync("erase", "--email", "GRACE@example.com", "--dry-run");
        var json = await CliAsync("erase", "--email", "grace@example.com", "--dry-run", "--json");

        Assert.That(human.ExitCode, Is.Zero, human.ToString());
        Assert.That(human.Output, Does.Contain("Would erase 2 leads").And.Contain(first.LeadId).And.Contain(second.LeadId).And.Contain("dry run"));
        Assert.That(human.Output, Does.Contain("1 pending delivery"));
        using var document = JsonDocument.Parse(json.Output);
        var leads = document.RootElement.GetProperty("leads").EnumerateArray().Select(static l => l.GetProperty("leadId").GetString()).ToList();
        Assert.That(leads, Is.EqualTo(new[] { first.LeadId, second.LeadId }));
        Assert.That(document.RootElement.GetProperty("dryRun").GetBoolean(), Is.True);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE erased_at IS NOT NULL OR email = 'erased@erased.invalid'"), Is.Zero);
        Assert.That(await OutboxStatusAsync(first.OutboxId), Is.EqualTo("pending"));
    }

    [Test]
    public async Task Erase_on_a_terminal_asks_and_a_no_erases_nothing_while_a_yes_erases()
    {
        var lead = await AddLeadAsync(OutboxStatus.Pending, email: "ada@example.com");

        var declined = await TerminalAsync("n\n", "erase", "--lead", lead.LeadId);
        Assert.That(declined.ExitCode, Is.EqualTo(ExitCodes.Problem), declined.ToString());
        Assert.That(declined.Error, Does.Contain(lead.LeadId).And.Contain("yes"), "the question names what it will erase");
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("ada@example.com"));

        var confirmed = await TerminalAsync("yes\n", "erase", "--lead", lead.LeadId, "--json");
        Assert.That(confirmed.ExitCode, Is.Zero, confirmed.ToString());
        Assert.That(JsonDocument.Parse(confirmed.Output).RootElement.GetProperty("leads").GetArrayLength(), Is.EqualTo(1), "stdout stays JSON: the question went to stderr");
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("erased@erased.invalid"));
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("cancelled"));
    }

    [Test]
    public async Task Purge_dry_run_counts_and_lists_what_would_go_refuses_without_yes_and_deletes_with_it()
    {
        var now = DateTimeOffset.UtcNow;
        var old = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-8));
        var recent = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-1));

        var dryRun = await CliAsync("purge", "--dry-run");
        var dryJson = await CliAsync("purge", "--dry-run", "--json");
        var refused = await CliAsync("purge");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(2), "neither the dry run nor the refused run deleted");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts"), Is.EqualTo(2));
        var confirmed = await CliAsync("purge", "--yes");

        Assert.That(dryRun.ExitCode, Is.Zero, dryRun.ToString());
        Assert.That(dryRun.Output, Does.Contain("Would purge 1 delivered outbox row and 1 attempt log").And.Contain(old.OutboxId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var plan = JsonDocument.Parse(dryJson.Output);
        Assert.That(plan.RootElement.GetProperty("outboxRows").GetInt64(), Is.EqualTo(1));
        Assert.That(plan.RootElement.GetProperty("attemptLogs").GetInt64(), Is.EqualTo(1));
        Assert.That(plan.RootElement.GetProperty("outboxIds").EnumerateArray().Select(static i => i.GetInt64()), Is.EqualTo(new[] { old.OutboxId }));
        Assert.That(refused.ExitCode, Is.EqualTo(ExitCodes.Usage), refused.ToString());
        Assert.That(refused.Error, Does.Contain("--yes"));
        Assert.That(confirmed.ExitCode, Is.Zero, confirmed.ToString());
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", old.OutboxId), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", recent.OutboxId), Is.EqualTo(1));
    }

    [Test]
    public async Task Replay_refuses_without_yes_off_a_terminal_keeps_its_dry_run_and_replays_with_yes()
    {
        var failed = await AddLeadAsync(OutboxStatus.Failed);

        var refused = await CliAsync("replay");
        var dryRun = await CliAsync("replay", "--dry-run");
        Assert.That(await OutboxStatusAsync(failed.OutboxId), Is.EqualTo("failed"));
        var confirmed = await CliAsync("replay", "--yes");

        Assert.That(refused.ExitCode, Is.EqualTo(ExitCodes.Usage), refused.ToString());
        Assert.That(refused.Error, Does.Contain("--yes"));
        Assert.That(dryRun.ExitCode, Is.Zero, dryRun.ToString());
        Assert.That(dryRun.Output, Does.Contain("Would replay 1 failed outbox row").And.Contain(failed.LeadId));
        Assert.That(confirmed.ExitCode, Is.Zero, confirmed.ToString());
        Assert.That(await OutboxStatusAsync(failed.OutboxId), Is.EqualTo("pending"));
    }

    [Test]
    public async Task Seed_refuses_without_yes_off_a_terminal_its_dry_run_writes_nothing_and_yes_writes()
    {
        var refused = await CliAsync("seed", "--count", "3");
        var dryRun = await CliAsync("seed", "--count", "3", "--dry-run");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
        var confirmed = await CliAsync("seed", "--count", "3", "--yes");

        Assert.That(refused.ExitCode, Is.EqualTo(ExitCodes.Usage), refused.ToString());
        Assert.That(refused.Error, Does.Contain("--yes"));
        Assert.That(dryRun.ExitCode, Is.Zero, dryRun.ToString());
        Assert.That(dryRun.Output, Does.Contain("Would write 3 fake leads"));
        Assert.That(confirmed.ExitCode, Is.Zero, confirmed.ToString());
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(3));
    }

    [Test]
    public async Task Nothing_to_change_needs_no_confirmation()
    {
        var purge = await CliAsync("purge");
        var replay = await CliAsync("replay");

        Assert.That(purge.ExitCode, Is.Zero, purge.ToString());
        Assert.That(purge.Output, Does.Contain("Nothing to purge"));
        Assert.That(replay.ExitCode, Is.Zero, replay.ToString());
        Assert.That(replay.Output, Does.Contain("nothing was replayed"));
    }

    private async Task<CliRun> TerminalAsync(string typed, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var keyboard = new StringReader(typed);
        var exitCode = await OperatorCli.RunAsync(args, output, error, CliSettings(), CancellationToken.None, new CliTerminal(keyboard, ErrorIsTerminal: false));
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}

/// <summary><c>migrate</c> down, on a database of its own: confirmed like the other verbs, and in Production only with --allow-schema-loss.</summary>
public sealed class GuardedMigrateTests
{
    private string _connectionString = "";

    [SetUp]
    public async Task CreateMigratedDatabaseAsync() => _connectionString = await TestPostgres.CreateDatabaseAsync(migrated: true);

    [TearDown]
    public Task DropAsync() => TestPostgres.DropDatabaseAsync(_connectionString);

    [Test]
    public async Task Migrating_up_needs_no_confirmation_as_deploys_run_it_unattended()
    {
        var run = await RunAsync("Production", "migrate");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(await TableCountAsync(), Is.EqualTo(SchemaTables));
    }

    [Test]
    public async Task Migrate_to_zero_off_a_terminal_without_yes_is_refused_and_keeps_the_schema()
    {
        await InsertLeadAsync();

        var run = await RunAsync("Staging", "migrate", "--to", "0");

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Usage), run.ToString());
        Assert.That(run.Error, Does.Contain("--yes"));
        Assert.That(await TableCountAsync(), Is.EqualTo(SchemaTables));
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Migrate_dry_run_names_the_migrations_it_would_roll_back_and_the_rows_they_hold()
    {
        await InsertLeadAsync();

        var run = await RunAsync("Production", "migrate", "--to", "0", "--dry-run");
        var json = await RunAsync("Production", "migrate", "--to", "0", "--dry-run", "--json");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("Would roll back").And.Contain("20261122000100_InitialSchema").And.Contain("1 lead"));
        using var plan = JsonDocument.Parse(json.Output);
        Assert.That(plan.RootElement.GetProperty("rollBack").EnumerateArray().Select(static m => m.GetString()), Does.Contain("20261122000100_InitialSchema"));
        Assert.That(plan.RootElement.GetProperty("leads").GetInt64(), Is.EqualTo(1));
        Assert.That(await TableCountAsync(), Is.EqualTo(SchemaTables));
    }

    [Test]
    public async Task In_Production_a_down_migration_needs_allow_schema_loss_besides_yes()
    {
        await InsertLeadAsync();

        var refused = await RunAsync("Production", "migrate", "--to", "0", "--yes");
        var refusedStep = await RunAsync("Production", "migrate", "--to", "InitialSchema", "--yes");
        Assert.That(await TableCountAsync(), Is.EqualTo(SchemaTables));
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
        var allowed = await RunAsync("Production", "migrate", "--to", "0", "--yes", "--allow-schema-loss");

        foreach (var run in new[] { refused, refusedStep })
        {
            Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Problem), run.ToString());
            Assert.That(run.Error, Does.Contain("Production").And.Contain("--allow-schema-loss"));
        }

        Assert.That(allowed.ExitCode, Is.Zero, allowed.ToString());
        Assert.That(await TableCountAsync(), Is.Zero);
    }

    [Test]
    public async Task Outside_Production_yes_is_enough_to_roll_back()
    {
        var run = await RunAsync("Staging", "migrate", "--to", "0", "--yes");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(await TableCountAsync(), Is.Zero);
    }

    private Task<CliRun> RunAsync(string environment, params string[] args) => CliRunner.RunAsync(
        new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = "",
            ["ConnectionStrings:Hermes"] = _connectionString,
            ["ASPNETCORE_ENVIRONMENT"] = "",
            ["DOTNET_ENVIRONMENT"] = environment,
        },
        args);

    private async Task InsertLeadAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        await using var context = Hermes.Persistence.PersistenceExtensions.CreateContext(dataSource);
        context.Leads.Add(Lead.FromSubmission(TestData.ValidSubmission(), LeadIdentifier.New()));
        await context.SaveChangesAsync();
    }

    private async Task<long> LeadCountAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM hermes_leads");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The schema's tables: leads, outbox, delivery attempts, the console's key ring and the audit trail.</summary>
    private const long SchemaTables = 5;

    private async Task<long> TableCountAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname LIKE 'hermes%'");
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
