using DotNet.Testcontainers.Configurations;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Hermes.Tests.Containers;
using Npgsql;
using Testcontainers.PostgreSql;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL every test runs against, first match wins: the server named by <c>HERMES_TEST_DATABASE_URL</c>; a
/// throwaway <c>postgres:15</c> container (Testcontainers.PostgreSql) when a Docker engine answers
/// (<see cref="DockerEngine"/>; <c>HERMES_TEST_POSTGRES=local</c> skips it); else a throwaway cluster started from the
/// machine's binaries. The container and the cluster are removed when the run ends, and by a watchdog when the test
/// process is killed. The run's output says which one it used (<see cref="Backend"/>). A migrated template database
/// makes a clean database per test class cheap.
/// </summary>
public static class TestPostgres
{
    public const string ExternalVariable = "HERMES_TEST_DATABASE_URL";
    public const string ChoiceVariable = "HERMES_TEST_POSTGRES";
    public const string Image = "postgres:15";
    private const string TemplateName = "hermes_template";
    private static LocalPostgresCluster? _cluster;
    private static PostgreSqlContainer? _container;
    private static string? _adminConnectionString;
    private static int _counter;

    /// <summary>The local cluster, when the run started one (null against an external server).</summary>
    public static LocalPostgresCluster? Cluster => _cluster;

    public static string AdminConnectionString => _adminConnectionString ?? throw new InvalidOperationException("The test database server has not been started.");

    /// <summary>Which server this run uses, in words (printed when the run starts, and kept in TestResults/test-database.txt).</summary>
    public static string Backend { get; private set; } = "not started";

    /// <summary>The container, when this run uses one.</summary>
    public static bool InContainer => _container is not null;

    internal static async Task StartAsync()
    {
        var external = Environment.GetEnvironmentVariable(ExternalVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            _adminConnectionString = DatabaseUrl.Parse(external, ExternalVariable).ConnectionString;
            Backend = $"the server in {ExternalVariable}";
        }
        else if (Environment.GetEnvironmentVariable(ChoiceVariable) != "local" && await DockerEngine.FindHostAsync() is { } dockerHost)
        {
            await StartContainerAsync(dockerHost);
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
            Backend = $"a local cluster from {LocalPostgresCluster.FindBinDirectory()} (no Docker engine answered, or {ChoiceVariable}=local)";
        }

        // Shown by `dotnet test --logger "console;verbosity=normal"`; also kept next to the results.
        TestContext.Progress.WriteLine($"Test database: {Backend}.");
        Directory.CreateDirectory(Path.Combine(Hermes.Tests.Deploy.RepositoryFiles.Root, "TestResults"));
        await File.WriteAllTextAsync(Path.Combine(Hermes.Tests.Deploy.RepositoryFiles.Root, "TestResults", "test-database.txt"), Backend + Environment.NewLine);

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
        if (_container is not null)
        {
            await _container.DisposeAsync();
            _container = null;
        }
        else if (_cluster is not null)
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

    /// <summary>
    /// postgres:15 by Testcontainers, with the same settings as the local cluster: trust authentication (the tests'
    /// logins carry no passwords), its port published on 127.0.0.1 only, fsync off (Testcontainers' own defaults for
    /// PostgreSQL) and 300 connections. Ryuk, Testcontainers' reaper, is not used: it is an image of its own, and where
    /// only local stand-ins exist it cannot be pulled; a detached watchdog removes the container instead if this
    /// process dies without stopping it. Testcontainers 4.16 speaks Engine API 1.44; an older engine (Debian 12's
    /// docker.io speaks 1.41) is addressed in its own version through DOCKER_API_VERSION.
    /// </summary>
    private static async Task StartContainerAsync(string dockerHost)
    {
        var api = await DockerEngine.ApiVersionAsync(dockerHost);
        if (api < new Version(1, 44) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOCKER_API_VERSION")))
        {
            Environment.SetEnvironmentVariable("DOCKER_API_VERSION", api.ToString());
        }

        TestcontainersSettings.ResourceReaperEnabled = false;
        _container = new PostgreSqlBuilder(Image)
            .WithDockerEndpoint(dockerHost)
            .WithEnvironment("POSTGRES_HOST_AUTH_METHOD", "trust")
            .WithCommand("-c", "max_connections=300")
            .WithLabel("org.hermes.test-run", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithCreateParameterModifier(static create =>
                create.HostConfig!.PortBindings = new Dictionary<string, IList<Docker.DotNet.Models.PortBinding>>
                {
                    ["5432/tcp"] = [new Docker.DotNet.Models.PortBinding { HostIP = "127.0.0.1", HostPort = "" }],
                })
            .Build();
        await _container.StartAsync();
        var id = _container.Id;
        LocalProcesses.StartDetachedShell(
            $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 2; done; DOCKER_HOST='{dockerHost}' docker rm -f {id} >/dev/null 2>&1");
        _adminConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = _container.GetMappedPublicPort(5432),
            Username = PostgreSqlBuilder.DefaultUsername,
            Database = "postgres",
        }.ConnectionString;
        var version = await ScalarTextAsync("SHOW server_version");
        Backend = $"a {Image} container by Testcontainers.PostgreSql (PostgreSQL {version}, container {id[..12]}, engine {dockerHost}, API {api})";
    }

    private static async Task<string> ScalarTextAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (string)(await command.ExecuteScalarAsync())!;
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
