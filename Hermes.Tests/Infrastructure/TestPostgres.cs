using Hermes.Persistence;
using Hermes.Persistence.Local;
using Npgsql;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL every test runs against: a throwaway cluster started from the machine's binaries
/// (stopped when the run ends, and by a watchdog when the test process is killed), or the server named by
/// <c>HERMES_TEST_DATABASE_URL</c>. A migrated template database makes a clean database per test class cheap.
/// </summary>
public static class TestPostgres
{
    public const string ExternalVariable = "HERMES_TEST_DATABASE_URL";
    private const string TemplateName = "hermes_template";
    private static LocalPostgresCluster? _cluster;
    private static string? _adminConnectionString;
    private static int _counter;

    /// <summary>The local cluster, when the run started one (null against an external server).</summary>
    public static LocalPostgresCluster? Cluster => _cluster;

    public static string AdminConnectionString => _adminConnectionString ?? throw new InvalidOperationException("The test database server has not been started.");

    internal static async Task StartAsync()
    {
        var external = Environment.GetEnvironmentVariable(ExternalVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            _adminConnectionString = DatabaseUrl.Parse(external, ExternalVariable).ConnectionString;
        }
        else
        {
            if (LocalPostgresCluster.FindBinDirectory() is null)
            {
                throw new InvalidOperationException(LocalPostgresCluster.MissingBinariesAdvice(ExternalVariable));
            }

            _cluster = await LocalPostgresCluster.StartAsync(
                new LocalPostgresOptions { Durable = false, StopWithProcessId = Environment.ProcessId, MaxConnections = 300 },
                CancellationToken.None);
            _adminConnectionString = _cluster.ConnectionString();
        }

        await DropIfExistsAsync(TemplateName);
        await ExecuteAsync($"CREATE DATABASE {LocalPostgresCluster.Quote(TemplateName)}");
        var template = ConnectionStringFor(TemplateName);
        await using (var dataSource = NpgsqlDataSource.Create(template))
        await using (var context = PersistenceExtensions.CreateContext(dataSource))
        {
            await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        }

        NpgsqlConnection.ClearAllPools();
    }

    internal static async Task StopAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
            _cluster = null;
        }
        else if (_adminConnectionString is not null)
        {
            await DropIfExistsAsync(TemplateName);
        }
    }

    /// <summary>A new database: a copy of the migrated template, or empty when <paramref name="migrated"/> is false.</summary>
    public static async Task<string> CreateDatabaseAsync(bool migrated = true)
    {
        var name = $"hermes_t{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        await DropIfExistsAsync(name);
        await ExecuteAsync($"CREATE DATABASE {LocalPostgresCluster.Quote(name)}" + (migrated ? $" TEMPLATE {LocalPostgresCluster.Quote(TemplateName)}" : ""));
        return ConnectionStringFor(name);
    }

    public static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        NpgsqlConnection.ClearAllPools();
        await DropIfExistsAsync(name);
    }

    public static string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;

    /// <summary>The same database as a postgres:// URL, as DATABASE_URL would carry it.</summary>
    public static string UrlFor(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var user = Uri.EscapeDataString(b.Username ?? "postgres");
        var password = b.Password is null ? "" : ":" + Uri.EscapeDataString(b.Password);
        return $"postgres://{user}{password}@{b.Host}:{b.Port}/{Uri.EscapeDataString(b.Database!)}";
    }

    private static Task DropIfExistsAsync(string name) =>
        ExecuteAsync($"DROP DATABASE IF EXISTS {LocalPostgresCluster.Quote(name)} WITH (FORCE)");

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
