using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Persistence.Hosting;

/// <summary>
/// <c>hermes.database.up</c> (1 when this host reached PostgreSQL at the last look, 0 when not) and, where asked,
/// <c>hermes.database.size</c> (bytes of the current database) on the host's own meter. One statement answers both
/// and is reused for <see cref="HealthOptions.PendingCacheDuration"/>, so a scrape costs one statement at most and an
/// outage does not turn every scrape into a connection attempt. Read only when a scrape asks.
/// <para>
/// With the size (the worker's meter) come the queue's vacuum health, read by the same statement, for the alerts
/// <c>HermesXminHorizonHeld</c>, <c>HermesDeadTuples</c> and <c>HermesAttemptPartitionsAheadShort</c>:
/// <c>hermes.database.xmin_horizon.age</c> (seconds the oldest transaction or prepared transaction holding a snapshot
/// has been open: what stops vacuum), <c>hermes.database.dead_tuples</c> and <c>hermes.database.live_tuples</c> per hot
/// table (attribute <c>db.collection.name</c>; the attempt log's days summed) and
/// <c>hermes.database.attempt_partitions.ahead</c> (seconds from now to the end of the last day created).
/// </para>
/// </summary>
public sealed class DatabaseGauges
{
    private const string Sql = "SELECT pg_database_size(current_database())";

    /// <summary>The hot tables reported, as <c>db.collection.name</c>.</summary>
    public static readonly IReadOnlyList<string> HotTables = ["hermes_outbox", "hermes_leads", "hermes_delivery_attempts"];

    // One statement for all of it. The horizon: sessions with a snapshot (backend_xmin) by their transaction's start, and
    // prepared transactions by when they were prepared; 0 when none. Tuples from the statistics, each day of the attempt
    // log counted under its parent. Partitions: -1 when the migration that makes them has not run.
    private const string HealthSql = """
        SELECT pg_database_size(current_database()),
               coalesce((SELECT extract(epoch FROM now() - min(t)) FROM (
                   SELECT xact_start AS t FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid()
                   UNION ALL SELECT prepared FROM pg_prepared_xacts) h), 0)::float8,
               coalesce(sum(s.n_dead_tup) FILTER (WHERE s.relname = 'hermes_outbox'), 0)::bigint,
               coalesce(sum(s.n_dead_tup) FILTER (WHERE s.relname = 'hermes_leads'), 0)::bigint,
               coalesce(sum(s.n_dead_tup) FILTER (WHERE s.relname LIKE 'hermes\_delivery\_attempts%'), 0)::bigint,
               coalesce(sum(s.n_live_tup) FILTER (WHERE s.relname = 'hermes_outbox'), 0)::bigint,
               coalesce(sum(s.n_live_tup) FILTER (WHERE s.relname = 'hermes_leads'), 0)::bigint,
               coalesce(sum(s.n_live_tup) FILTER (WHERE s.relname LIKE 'hermes\_delivery\_attempts%'), 0)::bigint,
               CASE WHEN to_regprocedure('hermes_attempt_partitions()') IS NULL THEN -1
                    ELSE coalesce((SELECT extract(epoch FROM max(ends_at) - now()) FROM hermes_attempt_partitions()), 0) END::float8
        FROM pg_stat_user_tables s
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly IOptions<HealthOptions> _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly bool _health;
    private long? _size;
    private VacuumSnapshot? _vacuum;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public DatabaseGauges(IMeterFactory meterFactory, NpgsqlDataSource dataSource, IOptions<HealthOptions> options, TimeProvider time, DatabaseGaugeSettings settings)
    {
        _dataSource = dataSource;
        _options = options;
        _time = time;
        _health = settings.IncludeSize;
        var meter = meterFactory.Create(settings.MeterName);
        meter.CreateObservableGauge("hermes.database.up", () => Read() is null ? 0 : 1, "{up}", "1 when this host reached PostgreSQL at the last look, 0 when not.");
        if (settings.IncludeSize)
        {
            meter.CreateObservableGauge("hermes.database.size", () => Read() is { } size ? [new Measurement<long>(size)] : Array.Empty<Measurement<long>>(),
                "By", "Size of Hermes' database (pg_database_size), in bytes.");
            meter.CreateObservableGauge("hermes.database.xmin_horizon.age", () => Health() is { } h ? [new Measurement<double>(h.XminHorizonAgeSeconds)] : Array.Empty<Measurement<double>>(),
                "s", "How long the oldest transaction or prepared transaction holding a snapshot has been open (0 when none): vacuum removes no row deleted since.");
            meter.CreateObservableGauge("hermes.database.dead_tuples", () => Tuples(static h => h.Dead),
                "{tuple}", "Dead tuples per hot table (attribute db.collection.name; the attempt log's days summed), from pg_stat_user_tables.");
            meter.CreateObservableGauge("hermes.database.live_tuples", () => Tuples(static h => h.Live),
                "{tuple}", "Live tuples per hot table (attribute db.collection.name), from pg_stat_user_tables.");
            meter.CreateObservableGauge("hermes.database.attempt_partitions.ahead", () => Health() is { PartitionsAheadSeconds: >= 0 } h ? [new Measurement<double>(h.PartitionsAheadSeconds)] : Array.Empty<Measurement<double>>(),
                "s", "Time from now to the end of the attempt log's last day partition: attempts later than that would be refused.");
        }
    }

    /// <summary>The vacuum health read with the size (the worker's gauges only), or null when unreachable (cached).</summary>
    public VacuumSnapshot? Health()
    {
        Read();
        lock (_gate)
        {
            return _vacuum;
        }
    }

    private Measurement<long>[] Tuples(Func<VacuumSnapshot, IReadOnlyList<long>> pick) => Health() is { } h
        ? [.. HotTables.Select((table, i) => new Measurement<long>(pick(h)[i], new KeyValuePair<string, object?>("db.collection.name", table)))]
        : [];

    /// <summary>The database's size in bytes, or null when it could not be reached (cached).</summary>
    public long? Read()
    {
        lock (_gate)
        {
            if (_time.GetUtcNow() - _readAt < _options.Value.PendingCacheDuration)
            {
                return _size;
            }

            try
            {
                using var command = _dataSource.CreateCommand(_health ? HealthSql : Sql);
                command.CommandTimeout = Math.Max(1, (int)_options.Value.Timeout.TotalSeconds);
                using var reader = command.ExecuteReader();
                reader.Read();
                _size = reader.GetInt64(0);
                _vacuum = _health
                    ? new VacuumSnapshot(reader.GetDouble(1), [reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)], [reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7)], reader.GetDouble(8))
                    : null;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                _size = null;
                _vacuum = null;
            }

            _readAt = _time.GetUtcNow();
            return _size;
        }
    }
}

/// <summary>The queue's vacuum health at one read: the horizon's age, dead and live tuples in <see cref="DatabaseGauges.HotTables"/>' order, the days ahead (-1: not partitioned).</summary>
public sealed record VacuumSnapshot(double XminHorizonAgeSeconds, IReadOnlyList<long> Dead, IReadOnlyList<long> Live, double PartitionsAheadSeconds);

/// <summary>Which meter carries <see cref="DatabaseGauges"/> and whether it reports the database's size.</summary>
public sealed record DatabaseGaugeSettings(string MeterName, bool IncludeSize);

public static class DatabaseGaugeExtensions
{
    /// <summary>Registers <see cref="DatabaseGauges"/> on <paramref name="meterName"/>, created with the host.</summary>
    public static IServiceCollection AddHermesDatabaseGauges(this IServiceCollection services, string meterName, bool includeSize)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(new DatabaseGaugeSettings(meterName, includeSize));
        return services.AddSingletonCreatedWithHost<DatabaseGauges>();
    }
}
