using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>One day of the attempt log: its partition and the times it holds (<c>[StartsAt, EndsAt)</c>, UTC days).</summary>
public sealed record AttemptPartition(string Name, DateTimeOffset StartsAt, DateTimeOffset EndsAt);

/// <summary>A day past retention: dropped whole, or kept because it holds an attempt of a failed outbox row.</summary>
public sealed record DroppedPartition(string Name, long AttemptLogs, bool Dropped);

/// <summary>What one maintenance round did: <paramref name="Ran"/> is false when another worker held the lock.</summary>
public sealed record PartitionMaintenance(bool Ran, int Created);

/// <summary>
/// The attempt log's days (migration <c>PartitionedAttemptLog</c>): <c>hermes_delivery_attempts</c> is partitioned by
/// <c>started_at</c>, one partition per UTC day, with no default partition. The worker keeps <see cref="DaysAhead"/>
/// days beyond today created (<see cref="EnsureAheadAsync"/>, one worker at a time); retention drops whole days
/// (<see cref="DropOlderThanAsync"/>). Both go through the migration's <c>SECURITY DEFINER</c> functions: the worker
/// and admin roles own no table and cannot run DDL themselves.
/// </summary>
public sealed class AttemptPartitions(NpgsqlDataSource dataSource)
{
    /// <summary>Days beyond today the maintenance keeps created: a week of worker outages before an insert can miss its day.</summary>
    public const int DaysAhead = 7;

    /// <summary>The maintenance's advisory lock (the functions themselves wait on another key, for any caller).</summary>
    public const long LockKey = 0x4865_726D_6573_0002;

    // One worker creates; the others see the lock taken and skip the round (they would only find the days there).
    private const string EnsureAheadSql = """
        WITH gate AS MATERIALIZED (
            SELECT pg_try_advisory_xact_lock(@lock_key) AS got
        )
        SELECT got, CASE WHEN got THEN hermes_attempt_partitions_ensure((now() AT TIME ZONE 'UTC')::date, @days + 1) ELSE 0 END FROM gate
        """;

    // The day of each time, created if missing (an insert was refused for want of it).
    private const string EnsureDaysSql = """
        SELECT coalesce(sum(hermes_attempt_partitions_ensure(d, 1)), 0)::int
        FROM (SELECT DISTINCT (t AT TIME ZONE 'UTC')::date AS d FROM unnest(@times) t) days
        """;

    // Days that ended before now() - @older_than: dropped, or kept for a failed row's attempts.
    private const string DropSql = "SELECT partition_name, attempt_logs, dropped FROM hermes_attempt_partitions_drop(@older_than)";

    private const string ListSql = "SELECT partition_name, starts_at, ends_at FROM hermes_attempt_partitions()";

    /// <summary>Creates today and the <see cref="DaysAhead"/> days after it where missing, unless another worker is doing so now.</summary>
    public async Task<PartitionMaintenance> EnsureAheadAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(EnsureAheadSql);
        command.Parameters.Add(new NpgsqlParameter("lock_key", NpgsqlDbType.Bigint) { Value = LockKey });
        command.Parameters.Add(new NpgsqlParameter("days", NpgsqlDbType.Integer) { Value = DaysAhead });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new PartitionMaintenance(reader.GetBoolean(0), reader.GetInt32(1));
    }

    /// <summary>Creates the days of <paramref name="times"/> that have no partition; returns how many it created.</summary>
    public async Task<int> EnsureDaysAsync(IReadOnlyCollection<DateTimeOffset> times, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(EnsureDaysSql);
        command.Parameters.Add(new NpgsqlParameter("times", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = times.Select(static t => t.UtcDateTime).ToArray() });
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Drops the days that ended before <c>now() - <paramref name="olderThan"/></c>, except those holding a failed row's attempts.</summary>
    public async Task<IReadOnlyList<DroppedPartition>> DropOlderThanAsync(TimeSpan olderThan, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await DropOlderThanAsync(connection, null, olderThan, cancellationToken);
    }

    /// <summary>The same, in the caller's transaction (the purge verb audits the drop in it).</summary>
    public static async Task<IReadOnlyList<DroppedPartition>> DropOlderThanAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, TimeSpan olderThan, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(olderThan, TimeSpan.Zero);
        await using var command = new NpgsqlCommand(DropSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter("older_than", NpgsqlDbType.Interval) { Value = olderThan });
        var days = new List<DroppedPartition>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            days.Add(new DroppedPartition(reader.GetString(0), reader.GetInt64(1), reader.GetBoolean(2)));
        }

        return days;
    }

    /// <summary>The days that exist, oldest first.</summary>
    public async Task<IReadOnlyList<AttemptPartition>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ListSql);
        var days = new List<AttemptPartition>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            days.Add(new AttemptPartition(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return days;
    }

    /// <summary>
    /// True when <paramref name="e"/> is PostgreSQL refusing an attempt because its day has no partition (SQLSTATE 23514
    /// without a constraint: a CHECK constraint's refusal names the constraint).
    /// </summary>
    public static bool IsMissingPartition(Exception e) =>
        (e as PostgresException ?? e.InnerException as PostgresException) is { SqlState: PostgresErrorCodes.CheckViolation, ConstraintName: null } pg
        && pg.TableName == "hermes_delivery_attempts";
}
