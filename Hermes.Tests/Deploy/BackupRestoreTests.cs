using Hermes.Persistence.Local;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Deploy;

/// <summary>
/// deploy/postgres/backup.sh and restore.sh against a migrated Hermes database holding
/// leads, outbox rows and delivery attempts.
/// </summary>
public sealed class BackupRestoreTests : DatabaseTest
{
    private const int Leads = 25;
    private string _backups = "";
    private readonly List<string> _restored = [];

    private static readonly string[] Tables = ["hermes_leads", "hermes_outbox", "hermes_delivery_attempts"];

    [OneTimeSetUp]
    public async Task StoreLeadsAsync()
    {
        _backups = Directory.CreateTempSubdirectory("hermes-backups-").FullName;
        await ExecuteAsync($"""
            INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description, marketing_consent)
            SELECT 'lead_' || g, 'Ada', 'Lovelace', 'ada' || g || '@example.com', 'United Kingdom', '+44 20 7946 0958',
                   E'Defaced web shop.\nLine two, with a tab:\there. COPY and \\. inside', g % 2 = 0
            FROM generate_series(1, {Leads}) g
            """);
        await ExecuteAsync("INSERT INTO hermes_outbox (lead_id, payload) SELECT id, jsonb_build_object('leadId', lead_id, 'backupId', id) FROM hermes_leads");
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'delivered', delivered_at = now(), attempts = 1 WHERE id % 3 = 0");
        await ExecuteAsync("""
            INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome)
            SELECT id, lead_id, 1, now(), 12, 200, 'delivered' FROM hermes_outbox WHERE status = 'delivered'
            """);
    }

    [OneTimeTearDown]
    public async Task RemoveBackupsAsync()
    {
        foreach (var name in _restored)
        {
            await TestPostgres.DropDatabaseAsync(TestPostgres.ConnectionStringFor(name));
        }

        Directory.Delete(_backups, recursive: true);
    }

    private string DatabaseName => new NpgsqlConnectionStringBuilder(ConnectionString).Database!;

    private string RestoredName(string suffix)
    {
        var name = $"{DatabaseName}_{suffix}";
        _restored.Add(name);
        return name;
    }

    private Task<ToolResult> RunScriptAsync(
        string script, IEnumerable<string> arguments, Dictionary<string, string?>? extra = null, string? tool = null, IEnumerable<string>? toolArguments = null)
    {
        var bash = ExternalTool.Require("bash", "bash runs the backup scripts.");
        var environment = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString) + "?sslmode=disable&pgbouncer=false&Maximum%20Pool%20Size=5",
            ["DATABASE_DIRECT_URL"] = null,
            ["PG_BIN"] = LocalPostgresCluster.FindBinDirectory(),
        };
        foreach (var (key, value) in extra ?? [])
        {
            environment[key] = value;
        }

        return tool is null
            ? ExternalTool.RunAsync(bash, [RepositoryFiles.PathOf("deploy", "postgres", script), .. arguments], environment: environment, timeout: TimeSpan.FromSeconds(120))
            : ExternalTool.RunAsync(tool, toolArguments ?? [], environment: environment, timeout: TimeSpan.FromSeconds(120));
    }

    private async Task<string> BackupAsync()
    {
        var result = await RunScriptAsync("backup.sh", [_backups]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        return result.StandardOutput.Trim().Split('\n')[^1];
    }

    private static async Task<long> CountAsync(string database, string table)
    {
        await using var connection = new NpgsqlConnection(TestPostgres.ConnectionStringFor(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<bool> ExistsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(TestPostgres.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        return await command.ExecuteScalarAsync() is not null;
    }

    [Test]
    public async Task A_backup_restored_into_a_new_database_has_every_row_of_every_table()
    {
        var backup = await BackupAsync();
        var target = RestoredName("restored");

        var restore = await RunScriptAsync("restore.sh", [backup, target]);

        Assert.That(restore.ExitCode, Is.Zero, restore.Describe());
        Assert.That(restore.StandardOutput.Trim().Split('\n')[^1], Is.EqualTo(target));
        foreach (var table in Tables)
        {
            Assert.That(await CountAsync(target, table), Is.EqualTo(await CountAsync(DatabaseName, table)), table);
        }

        Assert.That(await CountAsync(target, "hermes_leads"), Is.EqualTo(Leads));
        Assert.That(await CountAsync(target, "hermes_delivery_attempts"), Is.EqualTo(Leads / 3));
        Assert.That(await CountAsync(target, "\"__EFMigrationsHistory\""), Is.EqualTo(await CountAsync(DatabaseName, "\"__EFMigrationsHistory\"")));
        Assert.That(restore.StandardError, Does.Contain($"public.hermes_leads: {Leads} rows"));
        Assert.That(restore.StandardError, Does.Not.Contain("[restore] item"), "no progress line when stderr is not a terminal");
    }

    [Test]
    public async Task On_a_terminal_the_restore_counts_the_archive_items_as_they_are_restored()
    {
        var script = ExternalTool.Require("script", "util-linux script gives the restore a pseudo-terminal.");
        var backup = await BackupAsync();
        var target = RestoredName("watched");
        var restoreScript = RepositoryFiles.PathOf("deploy", "postgres", "restore.sh");

        var restore = await RunScriptAsync("restore.sh", [], tool: script, toolArguments: ["-qec", $"bash '{restoreScript}' '{backup}' '{target}'", "/dev/null"]);

        Assert.That(restore.ExitCode, Is.Zero, restore.Describe());
        Assert.That(restore.StandardOutput, Does.Match(@"\[restore\] item 1 / \d+, \d+s: ").And.Contain("data for table \"public.hermes_leads\""));
        Assert.That(restore.StandardOutput, Does.Match(@"\[restore\] \d+ / \d+ items restored in \d+s"));
        Assert.That(await CountAsync(target, "hermes_leads"), Is.EqualTo(Leads));
    }

    [Test]
    public async Task The_restored_database_keeps_text_exactly_and_continues_the_ids()
    {
        var backup = await BackupAsync();
        var target = RestoredName("exact");
        var restore = await RunScriptAsync("restore.sh", [backup, target]);
        Assert.That(restore.ExitCode, Is.Zero, restore.Describe());

        await using var restored = NpgsqlDataSource.Create(TestPostgres.ConnectionStringFor(target));
        await using (var text = restored.CreateCommand("SELECT string_agg(problem_description || email, '|' ORDER BY id) FROM hermes_leads"))
        await using (var original = DataSource.CreateCommand("SELECT string_agg(problem_description || email, '|' ORDER BY id) FROM hermes_leads"))
        {
            Assert.That(await text.ExecuteScalarAsync(), Is.EqualTo(await original.ExecuteScalarAsync()));
        }

        await using var insert = restored.CreateCommand("""
            INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description)
            VALUES ('lead_after_restore', 'Grace', 'Hopper', 'grace@example.com', 'US', '+1', 'x') RETURNING id
            """);
        Assert.That((long)(await insert.ExecuteScalarAsync())!, Is.GreaterThan(Leads), "the identity sequence is restored too");
    }

    [Test]
    public async Task A_backup_is_named_by_database_and_time_and_comes_with_a_checksum()
    {
        var backup = await BackupAsync();

        Assert.That(Path.GetFileName(backup), Does.Match($"^hermes-{DatabaseName}-[0-9]{{8}}T[0-9]{{6}}Z\\.dump$"));
        Assert.That(File.Exists(backup + ".sha256"), Is.True);
        Assert.That(Directory.GetFiles(_backups, "*.partial"), Is.Empty);
        var list = await ExternalTool.RunAsync(Path.Combine(LocalPostgresCluster.FindBinDirectory()!, "pg_restore"), ["--list", backup]);
        Assert.That(list.StandardOutput, Does.Contain("Format: CUSTOM"));
    }

    [Test]
    public async Task Restore_never_writes_into_an_existing_database()
    {
        var backup = await BackupAsync();
        await ExecuteAsync("INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description) VALUES ('lead_marker', 'M', 'M', 'm@example.com', 'X', '1', 'x')");
        var before = await CountAsync(DatabaseName, "hermes_leads");

        var restore = await RunScriptAsync("restore.sh", [backup, DatabaseName]);

        Assert.That(restore.ExitCode, Is.EqualTo(1));
        Assert.That(restore.StandardError, Does.Contain("already exists"));
        Assert.That(await CountAsync(DatabaseName, "hermes_leads"), Is.EqualTo(before));
        await ExecuteAsync("DELETE FROM hermes_leads WHERE lead_id = 'lead_marker'");
    }

    [Test]
    public async Task Restore_refuses_a_backup_that_does_not_match_its_checksum_and_creates_nothing()
    {
        var backup = await BackupAsync();
        var tampered = Path.Combine(_backups, "tampered-" + Path.GetFileName(backup));
        File.Copy(backup, tampered);
        File.WriteAllText(tampered + ".sha256", File.ReadAllText(backup + ".sha256").Replace(Path.GetFileName(backup), Path.GetFileName(tampered), StringComparison.Ordinal));
        await using (var stream = File.Open(tampered, FileMode.Append))
        {
            stream.WriteByte(0);
        }

        var target = RestoredName("tampered");

        var restore = await RunScriptAsync("restore.sh", [tampered, target]);

        Assert.That(restore.ExitCode, Is.EqualTo(1));
        Assert.That(restore.StandardError, Does.Contain("checksum"));
        Assert.That(await ExistsAsync(target), Is.False);
    }

    [Test]
    public async Task Backup_keeps_the_newest_and_prunes_by_count_and_age()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_backups, "retention")).FullName;
        string Old(string name, int daysAgo)
        {
            var path = Path.Combine(folder, name);
            File.WriteAllText(path, "old backup");
            File.WriteAllText(path + ".sha256", "x");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddDays(-daysAgo));
            return path;
        }

        var recent = Old("hermes-db-20260101T000000Z.dump", 1);
        var older = Old("hermes-db-20260102T000000Z.dump", 2);
        var tooOld = Old("hermes-db-20260103T000000Z.dump", 40);
        var beyondCount = Old("hermes-db-20260104T000000Z.dump", 3);
        var unrelated = Path.Combine(folder, "notes.txt");
        File.WriteAllText(unrelated, "not a backup");

        var result = await RunScriptAsync("backup.sh", [folder], new() { ["BACKUP_KEEP"] = "3", ["BACKUP_MAX_AGE_DAYS"] = "30" });

        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        var made = result.StandardOutput.Trim().Split('\n')[^1];
        var left = Directory.GetFiles(folder).Order().ToList();
        Assert.That(left, Is.EquivalentTo(new[] { made, made + ".sha256", recent, recent + ".sha256", older, older + ".sha256", unrelated }));
        Assert.That(File.Exists(tooOld) || File.Exists(beyondCount), Is.False);
    }

    [Test]
    public async Task Backup_fails_and_keeps_nothing_when_the_database_cannot_be_reached()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_backups, "unreachable")).FullName;

        var result = await RunScriptAsync("backup.sh", [folder], new() { ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/nothing?connect_timeout=2" });

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.StandardError, Does.Contain("cannot connect"));
        Assert.That(Directory.GetFiles(folder), Is.Empty);
    }
}
