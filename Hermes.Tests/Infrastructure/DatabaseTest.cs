using System.Diagnostics;
using Hermes.Persistence;
using Npgsql;

namespace Hermes.Tests.Infrastructure;

/// <summary>A test class with its own clean, migrated database.</summary>
public abstract class DatabaseTest
{
    private NpgsqlDataSource? _dataSource;

    protected string ConnectionString { get; private set; } = "";

    protected NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("No database yet.");

    [OneTimeSetUp]
    public async Task CreateDatabaseAsync()
    {
        ConnectionString = await TestPostgres.CreateDatabaseAsync();
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    [OneTimeTearDown]
    public async Task DropDatabaseAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        await TestPostgres.DropDatabaseAsync(ConnectionString);
    }

    protected HermesDbContext CreateContext() => PersistenceExtensions.CreateContext(DataSource);

    /// <summary>Runs one scalar query, for asserting on what the database holds.</summary>
    protected async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var result = await command.ExecuteScalarAsync();
        return result is DBNull or null ? default! : (T)Convert.ChangeType(result, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Creates the attempt log's day partitions from <paramref name="from"/>'s UTC day to today (the migration creates
    /// today and the days ahead only): what a database that has been running since then holds, for a test that writes
    /// attempts in the past. Through the same function the worker's maintenance calls.
    /// </summary>
    protected Task AttemptDaysSinceAsync(DateTimeOffset from) => ExecuteAsync(
        "SELECT hermes_attempt_partitions_ensure(d::date, 1) FROM generate_series(($1 AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date, interval '1 day') d",
        from.UtcDateTime);

    /// <summary>
    /// Empties the leads, their outbox rows and the attempt log, for a test that starts from nothing. The leads'
    /// sequence is not set back: an API host living across tests holds backup ids it reserved ahead
    /// (<c>BackupIdReservoir</c>), and a sequence set back under it hands the same ids out again — a later lead gets a
    /// lower id than an earlier one, or an id already in use.
    /// </summary>
    protected Task EmptyLeadTablesAsync() => ExecuteAsync(EmptyLeadTablesSql);

    /// <summary>The statement of <see cref="EmptyLeadTablesAsync"/>, for a test class with a database of its own.</summary>
    internal const string EmptyLeadTablesSql = "TRUNCATE hermes_delivery_attempts, hermes_outbox, hermes_leads";

    /// <summary>Runs a statement, for arranging state.</summary>
    protected async Task<int> ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Polls <paramref name="condition"/> every 20 ms until it holds; fails after <paramref name="timeout"/> (default 15 s),
    /// with what <paramref name="seen"/> describes at that moment when it is given.
    /// </summary>
    protected internal static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<Task<string>>? seen = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(15);
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Timed out after {limit} waiting until {what}." + (seen is null ? "" : " Seen: " + await seen()));
            }

            await Task.Delay(20);
        }
    }
}
