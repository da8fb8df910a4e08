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
/// </summary>
public sealed class DatabaseGauges
{
    private const string Sql = "SELECT pg_database_size(current_database())";

    private readonly NpgsqlDataSource _dataSource;
    private readonly IOptions<HealthOptions> _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private long? _size;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public DatabaseGauges(IMeterFactory meterFactory, NpgsqlDataSource dataSource, IOptions<HealthOptions> options, TimeProvider time, DatabaseGaugeSettings settings)
    {
        _dataSource = dataSource;
        _options = options;
        _time = time;
        var meter = meterFactory.Create(settings.MeterName);
        meter.CreateObservableGauge("hermes.database.up", () => Read() is null ? 0 : 1, "{up}", "1 when this host reached PostgreSQL at the last look, 0 when not.");
        if (settings.IncludeSize)
        {
            meter.CreateObservableGauge("hermes.database.size", () => Read() is { } size ? [new Measurement<long>(size)] : Array.Empty<Measurement<long>>(),
                "By", "Size of Hermes' database (pg_database_size), in bytes.");
        }
    }

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
                using var command = _dataSource.CreateCommand(Sql);
                command.CommandTimeout = Math.Max(1, (int)_options.Value.Timeout.TotalSeconds);
                _size = Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                _size = null;
            }

            _readAt = _time.GetUtcNow();
            return _size;
        }
    }
}

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
