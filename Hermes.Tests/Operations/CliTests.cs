using System.Text.Json;
using Hermes.Cli;
using Hermes.Persistence;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Operations;

/// <summary>What every verb shares: help, usage errors, configuration errors, an unreachable database.</summary>
public sealed class CliTests : OperationsTest
{
    public static readonly string[] Verbs = ["migrate", "replay", "purge", "doctor", "erase", "seed", "stats"];

    [TestCaseSource(nameof(Verbs))]
    public async Task Every_verb_has_help(string verb)
    {
        var run = await CliAsync(verb, "--help");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("Usage:").And.Contain(verb).And.Contain("--json"));
    }

    [TestCase("help")]
    [TestCase("--help")]
    public async Task Help_lists_the_verbs_and_the_exit_codes(string help)
    {
        var run = await CliAsync(help);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("Exit codes: 0 ok, 1 problem found or refused, 2 usage error, 3 database unreachable or statement failed, 78 configuration refused"));
        foreach (var verb in Verbs)
        {
            Assert.That(run.Output, Does.Contain(verb));
        }
    }

    [Test]
    public async Task Help_for_a_verb_can_be_asked_as_help_verb()
    {
        var run = await CliAsync("help", "replay");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("--dry-run"));
    }

    [Test]
    public async Task An_unknown_verb_is_a_usage_error()
    {
        var run = await CliAsync("frobnicate");
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("frobnicate"));
    }

    [TestCaseSource(nameof(Verbs))]
    public async Task Without_database_settings_every_verb_names_the_keys_and_exits_78(string verb)
    {
        var settings = CliSettings(("DATABASE_URL", ""), ("ConnectionStrings:Hermes", ""));
        string[] args = verb switch
        {
            "erase" => [verb, "--lead", "lead_x"],
            "seed" => [verb, "--count", "1"],
            _ => [verb],
        };

        var run = await CliAsync(settings, args);

        Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Configuration).And.EqualTo(78), run.ToString());
        Assert.That(run.Error, Does.Contain("DATABASE_URL").And.Contain("ConnectionStrings:Hermes"));
    }

    [Test]
    public async Task A_malformed_database_url_is_named()
    {
        var run = await CliAsync(CliSettings(("DATABASE_URL", "mysql://root@db/hermes")), "stats");
        Assert.That(run.ExitCode, Is.EqualTo(78), run.ToString());
        Assert.That(run.Error, Does.StartWith("DATABASE_URL is not a valid PostgreSQL URL"));
    }

    [Test]
    public async Task The_database_url_form_is_accepted()
    {
        await AddLeadAsync();
        var run = await CliAsync(CliSettings(("DATABASE_URL", TestPostgres.UrlFor(ConnectionString)), ("ConnectionStrings:Hermes", "")), "stats", "--json");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(JsonDocument.Parse(run.Output).RootElement.GetProperty("counts").GetProperty("pending").GetInt64(), Is.EqualTo(1));
    }

    [Test]
    public async Task An_unreachable_database_exits_three_with_where_it_tried()
    {
        var run = await CliAsync(CliSettings(("ConnectionStrings:Hermes", "Host=127.0.0.1;Port=1;Database=nowhere;Username=u;Timeout=2")), "stats");
        Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
        Assert.That(run.Error, Does.StartWith("Cannot reach the database (127.0.0.1:1/nowhere as u)"));
    }

    [Test]
    public async Task A_failing_statement_exits_three_with_the_server_message()
    {
        var empty = await TestPostgres.CreateDatabaseAsync(migrated: false);
        try
        {
            var run = await CliAsync(CliSettings(("ConnectionStrings:Hermes", empty)), "stats");
            Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
            Assert.That(run.Error, Does.Contain("42P01"));
        }
        finally
        {
            await TestPostgres.DropDatabaseAsync(empty);
        }
    }

    [Test]
    public async Task A_cancelled_command_exits_three()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await OperatorCli.RunAsync(["stats"], output, error, CliSettings(), cancelled.Token);

        Assert.That(exitCode, Is.EqualTo(3));
        Assert.That(error.ToString(), Does.Contain("Interrupted"));
    }

    [Test]
    [NonParallelizable] // it sets the process's environment and console, which every host started beside it would read
    public async Task The_public_entry_point_reads_the_environment_and_writes_to_the_console()
    {
        await AddLeadAsync();
        var originalOut = Console.Out;
        using var output = new StringWriter();
        Environment.SetEnvironmentVariable("HERMES_CLI_TEST_PROBE", "1");
        Environment.SetEnvironmentVariable("ConnectionStrings__Hermes", ConnectionString);
        var url = Environment.GetEnvironmentVariable("DATABASE_URL");
        Environment.SetEnvironmentVariable("DATABASE_URL", null);
        try
        {
            Console.SetOut(output);
            var exitCode = await OperatorCli.RunAsync(["stats", "--json"]);
            Assert.That(exitCode, Is.Zero);
        }
        finally
        {
            Console.SetOut(originalOut);
            Environment.SetEnvironmentVariable("ConnectionStrings__Hermes", null);
            Environment.SetEnvironmentVariable("DATABASE_URL", url);
            Environment.SetEnvironmentVariable("HERMES_CLI_TEST_PROBE", null);
        }

        Assert.That(JsonDocument.Parse(output.ToString()).RootElement.GetProperty("counts").GetProperty("pending").GetInt64(), Is.EqualTo(1));
    }
}

/// <summary><c>migrate</c> on a database of its own, starting empty.</summary>
public sealed class MigrateCommandTests
{
    private string _connectionString = "";

    [SetUp]
    public async Task CreateEmptyDatabaseAsync() => _connectionString = await TestPostgres.CreateDatabaseAsync(migrated: false);

    [TearDown]
    public Task DropAsync() => TestPostgres.DropDatabaseAsync(_connectionString);

    [Test]
    public async Task Migrate_applies_every_migration_then_has_nothing_to_do()
    {
        var first = await RunAsync("migrate");
        var second = await RunAsync("migrate", "--json");

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(first.Output, Does.Contain("Applied     20261122000100_InitialSchema").And.Contain("The schema is now at"));
        Assert.That(await TableCountAsync(), Is.EqualTo(5), "leads, outbox, attempts, the console's key ring and the audit trail");
        var report = JsonSerializer.Deserialize(second.Output, CliJsonContext.Default.MigrationReport)!;
        Assert.That(report.Applied, Is.Empty);
        Assert.That(report.Current[^1], Is.EqualTo(report.Latest));
    }

    [Test]
    public async Task Migrate_to_a_named_migration_rolls_back_and_to_zero_removes_the_schema()
    {
        Assert.That((await RunAsync("migrate")).ExitCode, Is.Zero);

        // No environment set: Production, where a roll-back needs --allow-schema-loss besides --yes (GuardedMigrateTests).
        var back = await RunAsync("migrate", "--to", "InitialSchema", "--json", "--yes", "--allow-schema-loss");
        var gone = await RunAsync("migrate", "--to", "0", "--yes", "--allow-schema-loss");

        Assert.That(back.ExitCode, Is.Zero, back.ToString());
        var report = JsonSerializer.Deserialize(back.Output, CliJsonContext.Default.MigrationReport)!;
        Assert.That(report.Current, Is.EqualTo(new[] { "20261122000100_InitialSchema" }));
        Assert.That(report.RolledBack, Does.Not.Contain("20261122000100_InitialSchema").And.Not.Empty);
        Assert.That(gone.Output, Does.Contain("Rolled back 20261122000100_InitialSchema").And.Contain("now at no migration"));
        Assert.That(await TableCountAsync(), Is.Zero);
    }

    [Test]
    public async Task Migrate_to_an_unknown_migration_lists_the_known_ones_and_exits_two()
    {
        var run = await RunAsync("migrate", "--to", "NoSuchMigration");
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("There is no migration 'NoSuchMigration'").And.Contain("InitialSchema"));
        Assert.That(await TableCountAsync(), Is.Zero);
    }

    [Test]
    public async Task Migrate_script_prints_idempotent_sql_without_touching_or_even_needing_a_database()
    {
        var run = await CliRunner.RunAsync(new Dictionary<string, string?> { ["DATABASE_URL"] = "", ["ConnectionStrings:Hermes"] = "" }, "migrate", "--script");
        var json = await RunAsync("migrate", "--script", "--to", "InitialSchema", "--json");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("CREATE TABLE hermes_leads").And.Contain("__EFMigrationsHistory").And.Contain("hermes_outbox_notify"));
        var script = JsonSerializer.Deserialize(json.Output, CliJsonContext.Default.MigrationScript)!;
        Assert.That(script.Target, Is.EqualTo("20261122000100_InitialSchema"));
        Assert.That(script.Script, Does.Contain("CREATE TABLE hermes_outbox").And.Not.Contain("hermes_outbox_notify"));
        Assert.That(await TableCountAsync(), Is.Zero);
    }

    [Test]
    public async Task Doctor_on_an_unmigrated_database_says_to_migrate()
    {
        var run = await RunAsync("doctor");
        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        Assert.That(run.Output, Does.Contain("Migrations are pending: run 'migrate'"));
    }

    private Task<CliRun> RunAsync(params string[] args) =>
        CliRunner.RunAsync(new Dictionary<string, string?> { ["DATABASE_URL"] = "", ["ConnectionStrings:Hermes"] = _connectionString }, args);

    private async Task<long> TableCountAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname LIKE 'hermes%'");
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

internal static class CliRunner
{
    public static async Task<CliRun> RunAsync(IReadOnlyDictionary<string, string?> settings, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await OperatorCli.RunAsync(args, output, error, settings, CancellationToken.None);
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}
