using Hermes.Admin.OperatorConsole;
using Hermes.Persistence;
using Hermes.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Hermes.Tests.Persistence;

public sealed class MigrationTests
{
    private string _connectionString = "";
    private NpgsqlDataSource _dataSource = null!;

    [SetUp]
    public async Task CreateEmptyDatabaseAsync()
    {
        _connectionString = await TestPostgres.CreateDatabaseAsync(migrated: false);
        _dataSource = NpgsqlDataSource.Create(_connectionString);
    }

    [TearDown]
    public async Task DropAsync()
    {
        await _dataSource.DisposeAsync();
        await TestPostgres.DropDatabaseAsync(_connectionString);
    }

    [Test]
    public async Task Migrations_go_up_from_empty_down_to_nothing_and_up_again()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        var migrator = new HermesMigrator(context);

        await migrator.MigrateAsync(null, CancellationToken.None);
        Assert.That(await TablesAsync(), Is.EquivalentTo(new[] { "hermes_leads", "hermes_outbox", "hermes_delivery_attempts", "hermes_console_keys", "hermes_audit" }));
        Assert.That(await migrator.PendingAsync(CancellationToken.None), Is.Empty);

        await migrator.MigrateAsync(HermesMigrator.Empty, CancellationToken.None);
        Assert.That(await TablesAsync(), Is.Empty);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM pg_proc WHERE proname IN ('hermes_outbox_notify', 'hermes_audit_purge', 'hermes_audit_append_only')"), Is.Zero);
        Assert.That(await migrator.AppliedAsync(CancellationToken.None), Is.Empty);

        await migrator.MigrateAsync(null, CancellationToken.None);
        Assert.That(await TablesAsync(), Has.Count.EqualTo(5));
        Assert.That(await migrator.AppliedAsync(CancellationToken.None), Is.EqualTo(migrator.All));
    }

    [Test]
    public async Task Each_migration_reverses_one_step_at_a_time()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        var migrator = new HermesMigrator(context);
        var all = migrator.All;
        await migrator.MigrateAsync(null, CancellationToken.None);

        for (var i = all.Count - 2; i >= -1; i--)
        {
            var target = i < 0 ? HermesMigrator.Empty : all[i];
            await migrator.MigrateAsync(target, CancellationToken.None);
            Assert.That(await migrator.AppliedAsync(CancellationToken.None), Is.EqualTo(all.Take(i + 1)), $"down to {target}");
            await migrator.MigrateAsync(all[i + 1], CancellationToken.None);
            await migrator.MigrateAsync(target, CancellationToken.None);
        }

        Assert.That(await TablesAsync(), Is.Empty);
    }

    [Test]
    public async Task Migrating_to_a_named_migration_accepts_its_short_name()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        var migrator = new HermesMigrator(context);
        await migrator.MigrateAsync("InitialSchema", CancellationToken.None);

        Assert.That(await migrator.AppliedAsync(CancellationToken.None), Is.EqualTo(new[] { migrator.All[0] }));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'hermes_outbox_notify%'"), Is.Zero);
    }

    [Test]
    public async Task Queue_storage_tuning_sets_the_tables_autovacuum_options_and_its_down_resets_them()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        var migrator = new HermesMigrator(context);
        const string Options = "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = $1";

        await migrator.MigrateAsync("QueueStorageTuning", CancellationToken.None);
        var outbox = (await ScalarAsync<string>(Options, "hermes_outbox")).Split(',');
        var attempts = await ScalarAsync<string>(Options, "hermes_delivery_attempts");
        var leads = await ScalarAsync<string>(Options, "hermes_leads");
        await migrator.MigrateAsync("OutboxWakeUp", CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(outbox, Is.SupersetOf(new[] { "autovacuum_vacuum_scale_factor=0.01", "autovacuum_vacuum_threshold=500", "autovacuum_vacuum_cost_delay=0", "fillfactor=90" }));
            Assert.That(attempts, Does.Contain("autovacuum_vacuum_insert_scale_factor=0.05"));
            Assert.That(leads, Is.EqualTo("autovacuum_analyze_scale_factor=0.05"));
            foreach (var table in new[] { "hermes_outbox", "hermes_delivery_attempts", "hermes_leads" })
            {
                Assert.That(await ScalarAsync<string>(Options, table), Is.Empty, $"{table} after Down");
            }
        });
    }

    [Test]
    public async Task Partitioned_attempt_log_migrates_up_and_down_with_its_rows_ids_and_sequence()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        var migrator = new HermesMigrator(context);
        await migrator.MigrateAsync("Canary", CancellationToken.None);
        await ExecuteAsync("""
            INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description)
            VALUES ('lead_p', 'A', 'B', 'a@example.com', 'NL', '0612345678', 'x');
            INSERT INTO hermes_outbox (lead_id, payload, status) SELECT id, '{}', 'failed' FROM hermes_leads;
            INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, error, failure_class)
            SELECT o.id, o.lead_id, n, now() - make_interval(days => n * 3), 10 + n, 500, 'retry', 'try ' || n, 'content'
            FROM hermes_outbox o, generate_series(1, 5) n;
            DELETE FROM hermes_delivery_attempts WHERE attempt_number = 5;
            """);
        const string Rows = "SELECT string_agg(id || ':' || attempt_number || ':' || started_at::text || ':' || duration_ms || ':' || error || ':' || failure_class, ',' ORDER BY id) FROM hermes_delivery_attempts";
        var before = await ScalarAsync<string>(Rows);

        await migrator.MigrateAsync("PartitionedAttemptLog", CancellationToken.None);
        var up = await ScalarAsync<string>(Rows);
        var partitioned = await ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE relname = 'hermes_delivery_attempts'");
        var days = await ScalarAsync<long>("SELECT count(*) FROM hermes_attempt_partitions()");
        var defaults = await ScalarAsync<long>("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'hermes_delivery_attempts'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'");
        var ahead = await ScalarAsync<bool>("SELECT max(ends_at) >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '8 days' FROM hermes_attempt_partitions()");
        await ExecuteAsync("INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, outcome) SELECT id, lead_id, 6, now(), 1, 'retry' FROM hermes_outbox");
        var nextId = await ScalarAsync<long>("SELECT id FROM hermes_delivery_attempts WHERE attempt_number = 6");
        var missing = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync("INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, outcome) SELECT id, lead_id, 7, now() + interval '60 days', 1, 'retry' FROM hermes_outbox"));
        await ExecuteAsync("DELETE FROM hermes_delivery_attempts WHERE attempt_number = 6");

        await migrator.MigrateAsync("Canary", CancellationToken.None);
        var down = await ScalarAsync<string>(Rows);
        var unpartitioned = await ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE relname = 'hermes_delivery_attempts'");
        await ExecuteAsync("INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, outcome) SELECT id, lead_id, 8, now() + interval '60 days', 1, 'retry' FROM hermes_outbox");
        var nextIdDown = await ScalarAsync<long>("SELECT id FROM hermes_delivery_attempts WHERE attempt_number = 8");

        Assert.Multiple(async () =>
        {
            Assert.That(before.Split(','), Has.Length.EqualTo(4));
            Assert.That(up, Is.EqualTo(before), "Up keeps every row, its id and its values");
            Assert.That(partitioned, Is.EqualTo("p"));
            Assert.That(days, Is.EqualTo(4 + 8), "a day per day of data, today and 7 days ahead");
            Assert.That(defaults, Is.Zero, "no default partition");
            Assert.That(ahead, Is.True);
            Assert.That(nextId, Is.EqualTo(6), "the identity continues after the deleted fifth attempt");
            Assert.That(missing!.SqlState, Is.EqualTo(PostgresErrorCodes.CheckViolation));
            Assert.That(missing.MessageText, Does.Contain("no partition"));
            Assert.That(down, Is.EqualTo(before), "Down keeps every row too");
            Assert.That(unpartitioned, Is.EqualTo("r"));
            Assert.That(nextIdDown, Is.EqualTo(8), "7 went to the insert refused for want of a partition: the sequence moved on, and Down kept its place");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname LIKE 'hermes_delivery_attempts_%' AND relkind IN ('r', 'p')"), Is.Zero, "no partition or copy left behind");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM pg_proc WHERE proname LIKE 'hermes_attempt_partitions%'"), Is.Zero);
            Assert.That(await ScalarAsync<string>("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'hermes_delivery_attempts'"), Does.Contain("autovacuum_vacuum_insert_scale_factor=0.05"));
        });
    }

    [Test]
    public async Task Migrating_to_an_unknown_migration_names_the_known_ones()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        var migrator = new HermesMigrator(context);

        var error = await Assert.ThrowsAsync<HermesConfigurationException>(() => migrator.MigrateAsync("NoSuchThing", CancellationToken.None));
        Assert.That(error!.Message, Does.Contain("NoSuchThing").And.Contain("InitialSchema"));
        Assert.That(await TablesAsync(), Is.Empty);
    }

    [Test]
    public async Task The_idempotent_script_runs_twice_on_an_empty_database()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        var script = new HermesMigrator(context).Script();

        for (var run = 0; run < 2; run++)
        {
            await using var connection = await _dataSource.OpenConnectionAsync();
            await using var batch = new NpgsqlCommand(script, connection);
            await batch.ExecuteNonQueryAsync();
        }

        Assert.That(await TablesAsync(), Has.Count.EqualTo(5));
        Assert.That(await new HermesMigrator(context).PendingAsync(CancellationToken.None), Is.Empty);
    }

    /// <summary>The drift test: a model change without its migration fails here.</summary>
    [Test]
    public async Task Migrated_schema_matches_the_model()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);

        // The admin host's key ring is migrated here too, and read through a context of its own.
        await using var keyRing = new ConsoleKeyRingContext(new DbContextOptionsBuilder<ConsoleKeyRingContext>().UseNpgsql(_dataSource).Options);
        var actualColumns = await ColumnsAsync();
        var expectedColumns = new SortedSet<string>(StringComparer.Ordinal);
        var expectedIndexes = new SortedSet<string>(StringComparer.Ordinal);
        var expectedForeignKeys = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var table in context.Model.GetRelationalModel().Tables.Concat(keyRing.Model.GetRelationalModel().Tables))
        {
            foreach (var column in table.Columns)
            {
                expectedColumns.Add($"{table.Name}.{column.Name} {column.StoreType} {(column.IsNullable ? "null" : "not null")}");
            }

            foreach (var index in table.Indexes)
            {
                expectedIndexes.Add($"{table.Name}.{index.Name}{(index.IsUnique ? " unique" : "")}{(index.Filter is null ? "" : " where")}");
            }

            foreach (var key in table.UniqueConstraints.Where(static k => !k.GetIsPrimaryKey()))
            {
                expectedIndexes.Add($"{table.Name}.{key.Name} unique");
            }

            foreach (var foreignKey in table.ForeignKeyConstraints)
            {
                expectedForeignKeys.Add($"{table.Name}.{foreignKey.Name} -> {foreignKey.PrincipalTable.Name} {foreignKey.OnDeleteAction}");
            }
        }

        // The audit trail is written and read with SQL only (migration AuditTrail): no model holds it.
        expectedColumns.UnionWith([
            "hermes_audit.id bigint not null", "hermes_audit.at timestamp with time zone not null", "hermes_audit.actor text not null",
            "hermes_audit.db_login text not null", "hermes_audit.action text not null", "hermes_audit.outcome text not null",
            "hermes_audit.lead_ids text[] not null", "hermes_audit.lead_count bigint not null", "hermes_audit.detail jsonb not null",
        ]);
        Assert.That(actualColumns, Is.EqualTo(expectedColumns), "columns: types and nullability");

        // Expression indexes EF Core cannot model, and the audit trail's, created by the migrations on purpose.
        var sqlOnly = new[] { "hermes_leads.idx_hermes_leads_email", "hermes_audit.ix_hermes_audit_at", "hermes_audit.ix_hermes_audit_lead_ids", "hermes_outbox.idx_hermes_outbox_canary where" };
        var actualIndexes = await IndexesAsync();
        Assert.That(actualIndexes.Except(sqlOnly), Is.EqualTo(expectedIndexes), "indexes");
        Assert.That(actualIndexes, Is.SupersetOf(sqlOnly));
        Assert.That(await ForeignKeysAsync(), Is.EqualTo(expectedForeignKeys), "foreign keys");
    }

    [Test]
    public async Task Every_seed_column_exists_with_the_seed_type()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);

        // The seed's build plan, hermes_leads; id is bigint on purpose (documented in InitialSchema).
        var seed = new Dictionary<string, string>
        {
            ["id"] = "bigint",
            ["lead_id"] = "character varying(50)",
            ["brevo_contact_id"] = "character varying(100)",
            ["first_name"] = "character varying(100)",
            ["last_name"] = "character varying(100)",
            ["email"] = "character varying(255)",
            ["country"] = "character varying(100)",
            ["phone_number"] = "character varying(50)",
            ["user_role"] = "character varying(100)",
            ["problem_description"] = "text",
            ["company_name"] = "character varying(255)",
            ["company_size"] = "character varying(50)",
            ["service_urgency"] = "character varying(50)",
            ["agree_to_terms"] = "boolean",
            ["privacy_consent"] = "boolean",
            ["marketing_consent"] = "boolean",
            ["captcha_token"] = "character varying(500)",
            ["user_agent"] = "text",
            ["ip_address"] = "inet",
            ["source"] = "character varying(50)",
            ["created_at"] = "timestamp with time zone",
            ["n8n_webhook_sent_at"] = "timestamp with time zone",
            ["n8n_response_received_at"] = "timestamp with time zone",
            ["n8n_response_data"] = "jsonb",
            ["n8n_success"] = "boolean",
            ["n8n_error_message"] = "text",
            ["status"] = "character varying(50)",
            ["processed_at"] = "timestamp with time zone",
            ["assigned_to"] = "character varying(100)",
            ["notes"] = "text",
            ["lead_score"] = "integer",
            ["priority"] = "character varying(20)",
            ["tags"] = "text[]",
            ["ai_analysis"] = "jsonb",
            ["estimated_value"] = "numeric(10,2)",
        };
        var notNull = new[] { "id", "lead_id", "first_name", "last_name", "email", "country", "phone_number", "problem_description", "service_urgency", "agree_to_terms", "privacy_consent", "source" };

        var actual = (await ColumnsAsync()).Where(static c => c.StartsWith("hermes_leads.", StringComparison.Ordinal)).ToList();
        foreach (var (column, type) in seed)
        {
            var expected = $"hermes_leads.{column} {type} {(notNull.Contains(column) ? "not null" : "null")}";
            Assert.That(actual, Does.Contain(expected), column);
        }

        Assert.That(await ScalarAsync<string>("SELECT column_default FROM information_schema.columns WHERE table_name = 'hermes_leads' AND column_name = 'service_urgency'"), Does.Contain("not-urgent"));
        Assert.That(await ScalarAsync<string>("SELECT column_default FROM information_schema.columns WHERE table_name = 'hermes_leads' AND column_name = 'status'"), Does.Contain("new"));
        Assert.That(await ScalarAsync<string>("SELECT column_default FROM information_schema.columns WHERE table_name = 'hermes_leads' AND column_name = 'source'"), Does.Contain("hermes-website"));
    }

    [Test]
    public async Task Brevo_contact_id_may_repeat_but_lead_id_may_not()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        const string insert = """
            INSERT INTO hermes_leads (lead_id, brevo_contact_id, first_name, last_name, email, country, phone_number, problem_description)
            VALUES ($1, '42', 'A', 'B', 'a@example.com', 'NL', '0612345678', 'x')
            """;

        await ExecuteAsync(insert, "lead_a");
        await ExecuteAsync(insert, "lead_b");
        var duplicate = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(insert, "lead_a"));

        Assert.That(duplicate!.SqlState, Is.EqualTo(PostgresErrorCodes.UniqueViolation));
        Assert.That(duplicate.ConstraintName, Is.EqualTo("idx_hermes_leads_lead_id"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE brevo_contact_id = '42'"), Is.EqualTo(2));
    }

    [Test]
    public async Task Outbox_status_outside_the_state_machine_is_refused()
    {
        await using var context = PersistenceExtensions.CreateContext(_dataSource);
        await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        await ExecuteAsync("""
            INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description)
            VALUES ('lead_x', 'A', 'B', 'a@example.com', 'NL', '0612345678', 'x')
            """);

        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(
            "INSERT INTO hermes_outbox (lead_id, payload, status) SELECT id, '{}', 'sent' FROM hermes_leads"));

        Assert.That(error!.ConstraintName, Is.EqualTo("ck_hermes_outbox_status"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.Zero);
    }

    private async Task<List<string>> TablesAsync()
    {
        var tables = new List<string>();
        await using var command = _dataSource.CreateCommand("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname LIKE 'hermes%' ORDER BY 1");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            tables.Add(reader.GetString(0));
        }

        return tables;
    }

    private Task<SortedSet<string>> ColumnsAsync() => SetAsync("""
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname LIKE 'hermes%' AND a.attnum > 0 AND NOT a.attisdropped
        """);

    private Task<SortedSet<string>> IndexesAsync() => SetAsync("""
        SELECT t.relname || '.' || i.relname || CASE WHEN x.indisunique THEN ' unique' ELSE '' END || CASE WHEN x.indpred IS NOT NULL THEN ' where' ELSE '' END
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND t.relname LIKE 'hermes%' AND NOT t.relispartition AND NOT x.indisprimary
        """);

    private Task<SortedSet<string>> ForeignKeysAsync() => SetAsync("""
        SELECT t.relname || '.' || c.conname || ' -> ' || p.relname || ' ' ||
            CASE c.confdeltype WHEN 'c' THEN 'Cascade' WHEN 'r' THEN 'Restrict' WHEN 'a' THEN 'NoAction' WHEN 'n' THEN 'SetNull' ELSE 'SetDefault' END
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid
        WHERE c.contype = 'f' AND c.conparentid = 0 AND t.relname LIKE 'hermes%'
        """);

    private async Task<SortedSet<string>> SetAsync(string sql)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        await using var command = _dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            set.Add(reader.GetString(0));
        }

        return set;
    }

    private async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }
}
