using Hermes.Persistence.Local;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Security;

/// <summary>
/// Login roles for one test class: unique names (roles are cluster-wide and test classes run side by side), each made a
/// member of one of the group roles of <c>roles.sql</c>, as an operator would create them. Dropped at the end.
/// </summary>
public sealed class DatabaseLogins : IAsyncDisposable
{
    private static int _counter;
    private readonly List<string> _created = [];

    /// <summary>Creates a login in <paramref name="group"/> (or in no group) and returns a connection string for it on <paramref name="database"/>.</summary>
    public async Task<string> CreateAsync(string database, string? group)
    {
        var name = $"hermes_login_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        await using (var connection = new NpgsqlConnection(TestPostgres.AdminConnectionString))
        {
            await connection.OpenAsync();
            var sql = $"CREATE ROLE {LocalPostgresCluster.Quote(name)} LOGIN PASSWORD 'not-used-trust-auth'" + (group is null ? "" : $" IN ROLE {LocalPostgresCluster.Quote(group)}");
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }

        _created.Add(name);
        return new NpgsqlConnectionStringBuilder(database) { Username = name, Password = null }.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(TestPostgres.AdminConnectionString);
        await connection.OpenAsync();
        foreach (var name in _created)
        {
            await using var command = new NpgsqlCommand($"DROP ROLE IF EXISTS {LocalPostgresCluster.Quote(name)}", connection);
            await command.ExecuteNonQueryAsync();
        }

        _created.Clear();
    }
}
