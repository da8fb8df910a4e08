using Hermes.Domain;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Outbox.Worker.Health;

/// <summary>The pending rows at one moment: how many, and how long the oldest has waited (since it was written).</summary>
public sealed record BacklogSnapshot(long PendingCount, double OldestPendingAgeSeconds, DateTimeOffset ReadAt)
{
    /// <summary>Rows in <c>failed</c> (given up; waiting for a replay), read by the same statement.</summary>
    public long FailedCount { get; init; }
}

/// <summary>
/// The pending count, the age of the oldest pending row and the failed count, read by ONE query and reused for
/// <see cref="HealthOptions.PendingCacheDuration"/>: gauges and <c>/health/n8n</c> share it, so a scrape of both
/// gauges plus a health probe costs one statement at most. The count runs on the partial index of pending rows.
/// A failed read is remembered for the same time (null), so a database outage does not turn every scrape into a
/// connection attempt.
/// </summary>
public sealed class OutboxBacklog(NpgsqlDataSource dataSource, IOptions<HealthOptions> options, TimeProvider time)
{
    private const string Sql = $"""
        SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8,
               (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Failed}')
        FROM hermes_outbox WHERE status = '{OutboxStatusNames.Pending}'
        """;

    private readonly Lock _gate = new();
    private BacklogSnapshot? _last;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;
    private long _queries;

    /// <summary>Statements run so far (for tests and the curious).</summary>
    public long Queries => Interlocked.Read(ref _queries);

    /// <summary>For the gauges' synchronous callbacks: the cached snapshot, read again when older than the cache time.</summary>
    public BacklogSnapshot? Current()
    {
        lock (_gate)
        {
            if (IsFresh())
            {
                return _last;
            }

            try
            {
                using var command = dataSource.CreateCommand(Sql);
                command.CommandTimeout = Math.Max(1, (int)options.Value.Timeout.TotalSeconds);
                using var reader = command.ExecuteReader();
                reader.Read();
                return Store(new BacklogSnapshot(reader.GetInt64(0), reader.GetDouble(1), time.GetUtcNow()) { FailedCount = reader.GetInt64(2) });
            }
            catch (Exception e) when (DatabaseErrors.IsDatabaseTrouble(e) || e is InvalidOperationException)
            {
                return Store(null);
            }
        }
    }

    /// <summary>For health checks: the same cache, read asynchronously (outside the lock) when stale.</summary>
    public async Task<BacklogSnapshot?> CurrentAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (IsFresh())
            {
                return _last;
            }
        }

        BacklogSnapshot? snapshot;
        try
        {
            await using var command = dataSource.CreateCommand(Sql);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            snapshot = new BacklogSnapshot(reader.GetInt64(0), reader.GetDouble(1), time.GetUtcNow()) { FailedCount = reader.GetInt64(2) };
        }
        catch (Exception e) when (DatabaseErrors.IsDatabaseTrouble(e) || e is InvalidOperationException)
        {
            snapshot = null;
        }

        lock (_gate)
        {
            return Store(snapshot);
        }
    }

    private bool IsFresh() => time.GetUtcNow() - _readAt < options.Value.PendingCacheDuration;

    private BacklogSnapshot? Store(BacklogSnapshot? snapshot)
    {
        Interlocked.Increment(ref _queries);
        _last = snapshot;
        _readAt = time.GetUtcNow();
        return snapshot;
    }
}
