using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>
/// The doctor's checks of what keeps a PostgreSQL queue healthy at scale (as pg-boss warns): the xmin horizon (a
/// transaction, prepared transaction or replication slot that holds back every vacuum), dead tuples and index bloat on
/// the hot tables, autovacuum switched off, and the attempt log's days created ahead. Each is one catalog or statistics
/// read. The horizon's holders in <c>pg_stat_activity</c> are visible to a login with <c>pg_read_all_stats</c> (or the
/// holder's own); without it, other logins' sessions show no transaction and the check cannot name them.
/// </summary>
internal static class VacuumHealth
{
    // The hot tables: the queue, the leads it updates, and every day of the attempt log.
    private const string HotTables = """
        (c.relname IN ('hermes_outbox', 'hermes_leads')
         OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass('hermes_delivery_attempts')))
        """;

    // Who holds back the horizon: sessions by their transaction's age, prepared transactions by theirs, and replication
    // slots (which have no time) when inactive, since an inactive slot holds it for ever.
    private const string XminSql = """
        SELECT count(*), (array_agg(who ORDER BY age_s DESC NULLS LAST))[1:5] FROM (
            SELECT format('session pid %s, application %L, user %s, %s, transaction open %s s, xmin age %s',
                          pid, application_name, usename, state, round(extract(epoch FROM now() - xact_start)), age(backend_xmin)) AS who,
                   extract(epoch FROM now() - xact_start) AS age_s
            FROM pg_stat_activity
            WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid() AND now() - xact_start > @older_than
            UNION ALL
            SELECT format('prepared transaction %L, owner %s, database %s, prepared %s s ago, xmin age %s',
                          gid, owner, database, round(extract(epoch FROM now() - prepared)), age(transaction)),
                   extract(epoch FROM now() - prepared)
            FROM pg_prepared_xacts
            WHERE now() - prepared > @older_than
            UNION ALL
            SELECT format('replication slot %L (%s, inactive), xmin age %s', slot_name, slot_type, greatest(age(xmin), age(catalog_xmin))), NULL
            FROM pg_replication_slots
            WHERE NOT active AND (xmin IS NOT NULL OR catalog_xmin IS NOT NULL)
        ) holders
        """;

    // Dead tuples against live ones, per hot table, from the statistics collector.
    private const string DeadTuplesSql = $"""
        SELECT count(*), (array_agg(format('%s: %s dead, %s live (%s%%), last autovacuum %s', s.relname, s.n_dead_tup, s.n_live_tup,
                                          round(100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup)), coalesce(s.last_autovacuum::text, 'never'))
                                   ORDER BY s.n_dead_tup DESC))[1:5]
        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE {HotTables} AND s.n_dead_tup >= @min_dead AND s.n_dead_tup > @ratio * (s.n_live_tup + s.n_dead_tup)
        """;

    // A b-tree's size against what its tuples need: (12 bytes of header and pointer + the key columns' average width,
    // aligned to 8) per tuple, pages 90% full. An estimate from the planner's statistics (ANALYZE keeps them).
    private const string IndexBloatSql = $"""
        SELECT count(*), (array_agg(format('%s on %s: %s pages, about %s needed (%s%% bloat)', i.index, i.tbl, i.pages, i.expected,
                                           round(100 - 100.0 * i.expected / i.pages)) ORDER BY i.pages - i.expected DESC))[1:5]
        FROM (
            SELECT ic.relname AS index, c.relname AS tbl, ic.relpages AS pages,
                   greatest(1, ceil(greatest(ic.reltuples, 0) * (ceil((12 + coalesce(w.width, 8)) / 8.0) * 8) / (current_setting('block_size')::numeric * 0.9)))::bigint AS expected
            FROM pg_index x
            JOIN pg_class ic ON ic.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
            LEFT JOIN LATERAL (
                SELECT sum(st.avg_width) AS width FROM pg_attribute a
                JOIN pg_stats st ON st.schemaname = current_schema() AND st.tablename = c.relname AND st.attname = a.attname
                WHERE a.attrelid = c.oid AND a.attnum = ANY(x.indkey)
            ) w ON true
            WHERE {HotTables}
        ) i
        WHERE i.pages >= @min_pages AND i.pages > 2 * i.expected
        """;

    // Autovacuum off for the server (or the statistics it needs), or for a hot table.
    private const string AutovacuumSql = $"""
        SELECT count(*), (array_agg(what))[1:5] FROM (
            SELECT 'autovacuum = off (server)' AS what WHERE current_setting('autovacuum') = 'off'
            UNION ALL
            SELECT 'track_counts = off (server): autovacuum never learns what to vacuum' WHERE current_setting('track_counts') = 'off'
            UNION ALL
            SELECT c.relname || ': autovacuum_enabled = false' FROM pg_class c
            WHERE {HotTables} AND c.reloptions @> ARRAY['autovacuum_enabled=false']
        ) off
        """;

    // The days from now to @ahead from now that have no partition; an insert of that day would be refused.
    private const string PartitionsSql = """
        SELECT count(*) FILTER (WHERE d < now() + interval '1 day' AND NOT covered), count(*) FILTER (WHERE NOT covered),
               (array_agg(to_char(d AT TIME ZONE 'UTC', 'YYYY-MM-DD') ORDER BY d) FILTER (WHERE NOT covered))[1:5]
        FROM (
            SELECT d, EXISTS (SELECT 1 FROM hermes_attempt_partitions() p WHERE p.starts_at <= d AND p.ends_at > d) AS covered
            FROM generate_series(now(), now() + @ahead, interval '1 day') d
        ) days
        """;

    public static async Task<IEnumerable<DoctorFinding>> ExamineAsync(NpgsqlDataSource dataSource, DoctorSettings settings, CancellationToken cancellationToken)
    {
        var findings = new List<DoctorFinding>
        {
            await FindAsync(dataSource, "xmin_horizon", XminSql,
                $"No transaction, prepared transaction or inactive replication slot has held back vacuum for over {OperatorTime.Format(settings.XminHorizonOlderThan)}.",
                $"hold back the xmin horizon (over {OperatorTime.Format(settings.XminHorizonOlderThan)}): vacuum cannot remove any row deleted since, and the claim wades through them; end them (pg_terminate_backend, COMMIT/ROLLBACK PREPARED, pg_drop_replication_slot)",
                cancellationToken, p => p.Add(new NpgsqlParameter("older_than", NpgsqlDbType.Interval) { Value = settings.XminHorizonOlderThan })),
            await FindAsync(dataSource, "dead_tuples", DeadTuplesSql,
                $"No hot table holds more than {settings.DeadTupleRatio:P0} dead tuples.",
                $"hot table(s) hold more than {settings.DeadTupleRatio:P0} dead tuples: is the xmin horizon held back, or autovacuum falling behind?",
                cancellationToken, p =>
                {
                    p.Add(new NpgsqlParameter("ratio", NpgsqlDbType.Double) { Value = settings.DeadTupleRatio });
                    p.Add(new NpgsqlParameter("min_dead", NpgsqlDbType.Bigint) { Value = settings.DeadTupleMinimum });
                }),
            await FindAsync(dataSource, "index_bloat", IndexBloatSql,
                "No index of a hot table is more than twice the size its rows need (estimate).",
                "index(es) of hot tables are more than twice the size their rows need (estimate): REINDEX INDEX CONCURRENTLY them",
                cancellationToken, p => p.Add(new NpgsqlParameter("min_pages", NpgsqlDbType.Integer) { Value = settings.IndexBloatMinimumPages })),
            await FindAsync(dataSource, "autovacuum", AutovacuumSql,
                "Autovacuum is on, for the server and every hot table.",
                "place(s) where autovacuum is off: dead tuples of the queue are never removed",
                cancellationToken, null),
        };
        findings.Add(await PartitionsAheadAsync(dataSource, settings, cancellationToken));
        return findings;
    }

    private static async Task<DoctorFinding> FindAsync(NpgsqlDataSource dataSource, string check, string sql, string okSummary, string problemSummary,
        CancellationToken cancellationToken, Action<NpgsqlParameterCollection>? bind)
    {
        await using var command = dataSource.CreateCommand(sql);
        bind?.Invoke(command.Parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var count = reader.GetInt64(0);
        return count == 0
            ? new DoctorFinding(check, DoctorFinding.Ok, 0, okSummary, [])
            : new DoctorFinding(check, DoctorFinding.Warning, count, $"{count} {problemSummary}.", reader.IsDBNull(1) ? [] : reader.GetFieldValue<string[]>(1));
    }

    private static async Task<DoctorFinding> PartitionsAheadAsync(NpgsqlDataSource dataSource, DoctorSettings settings, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(PartitionsSql);
        command.Parameters.Add(new NpgsqlParameter("ahead", NpgsqlDbType.Interval) { Value = settings.PartitionsAhead });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var now = reader.GetInt64(0);
        var missing = reader.GetInt64(1);
        var days = reader.IsDBNull(2) ? [] : reader.GetFieldValue<string[]>(2);
        const string Check = "attempt_partitions";
        return (now, missing) switch
        {
            (0, 0) => new DoctorFinding(Check, DoctorFinding.Ok, 0, $"The attempt log has its days for the next {OperatorTime.Format(settings.PartitionsAhead)}.", []),
            (0, _) => new DoctorFinding(Check, DoctorFinding.Warning, missing,
                $"{missing} day(s) within {OperatorTime.Format(settings.PartitionsAhead)} have no attempt log partition: is any worker running its maintenance (event 5011)?", days),
            _ => new DoctorFinding(Check, DoctorFinding.Problem, missing,
                $"{missing} day(s) have no attempt log partition, today's or tomorrow's among them: attempts of those days are refused until a worker creates them (SELECT hermes_attempt_partitions_ensure(current_date, 8) as the owner does it now).", days),
        };
    }
}
