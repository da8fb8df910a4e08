using Hermes.Persistence;
using Hermes.Persistence.Local;
using Hermes.Tests.Api;
using Hermes.Tests.Observability;
using Hermes.Tests.Worker;
using Npgsql;

namespace Hermes.Tests.Monitoring;

/// <summary>
/// What the real-Prometheus tests watch: a PostgreSQL cluster of their own (so a test may stop it) with a migrated
/// database, a receiver standing in for n8n, the real API and worker hosts, and Debian's Prometheus scraping both
/// every second (<see cref="PrometheusUnderTest"/>). Skipped, or failed under HERMES_REQUIRE_PROMETHEUS=1, without
/// Prometheus.
/// </summary>
public sealed class MonitoredHosts : IAsyncDisposable
{
    private MonitoredHosts(LocalPostgresCluster cluster, WebhookReceiver receiver, HermesApiFactory api, HttpClient client, ObservedWorker worker, PrometheusUnderTest prometheus)
    {
        Cluster = cluster;
        Receiver = receiver;
        Api = api;
        Client = client;
        Worker = worker;
        Prometheus = prometheus;
    }

    public LocalPostgresCluster Cluster { get; }

    public WebhookReceiver Receiver { get; }

    public HermesApiFactory Api { get; }

    /// <summary>A client of the API's real port.</summary>
    public HttpClient Client { get; }

    public ObservedWorker Worker { get; }

    public PrometheusUnderTest Prometheus { get; }

    public string ConnectionString => new NpgsqlConnectionStringBuilder(Cluster.ConnectionString("hermes")) { Timeout = 2 }.ConnectionString;

    public static async Task<MonitoredHosts> StartAsync(IDictionary<string, string?>? workerSettings = null, IDictionary<string, string?>? apiSettings = null)
    {
        var prometheusBinary = MonitoringTools.Prometheus;
        var cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = false, StopWithProcessId = Environment.ProcessId }, CancellationToken.None);
        WebhookReceiver? receiver = null;
        HermesApiFactory? api = null;
        HttpClient? client = null;
        ObservedWorker? worker = null;
        try
        {
            await cluster.CreateDatabaseAsync("hermes");
            var connectionString = new NpgsqlConnectionStringBuilder(cluster.ConnectionString("hermes")) { Timeout = 2 }.ConnectionString;
            await using (var dataSource = NpgsqlDataSource.Create(connectionString))
            await using (var context = PersistenceExtensions.CreateContext(dataSource))
            {
                await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
            }

            receiver = await WebhookReceiver.StartAsync();
            var apiValues = new Dictionary<string, string?> { ["Health:PendingCacheDuration"] = "00:00:00" };
            foreach (var (key, value) in apiSettings ?? new Dictionary<string, string?>())
            {
                apiValues[key] = value;
            }

            api = new HermesApiFactory(connectionString, apiValues);
            client = api.CreateApiClient();
            worker = await ObservedWorker.StartAsync(connectionString, receiver.Url, workerSettings);
            var prometheus = await PrometheusUnderTest.StartAsync(prometheusBinary, api.ServerAddress, worker.Http.BaseAddress!);
            return new MonitoredHosts(cluster, receiver, api, client, worker, prometheus);
        }
        catch
        {
            await DisposeAllAsync(worker, client, api, receiver, cluster);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Prometheus.DisposeAsync();
        await DisposeAllAsync(Worker, Client, Api, Receiver, Cluster);
    }

    private static async Task DisposeAllAsync(ObservedWorker? worker, HttpClient? client, HermesApiFactory? api, WebhookReceiver? receiver, LocalPostgresCluster cluster)
    {
        if (worker is not null)
        {
            await worker.DisposeAsync();
        }

        client?.Dispose();
        if (api is not null)
        {
            await api.DisposeAsync();
        }

        if (receiver is not null)
        {
            await receiver.DisposeAsync();
        }

        await cluster.DisposeAsync();
    }
}
