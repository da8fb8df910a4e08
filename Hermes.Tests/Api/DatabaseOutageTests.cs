using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Hermes.Persistence;
using Hermes.Persistence.Local;
using Npgsql;

namespace Hermes.Tests.Api;

/// <summary>
/// The API over a PostgreSQL of its own that the test stops and starts again: while it is down every submission
/// is 503 with Retry-After and nothing is half-written; once it is back, submissions succeed without restarting
/// the API.
/// </summary>
[NonParallelizable]
public sealed class DatabaseOutageTests : IAsyncDisposable
{
    private LocalPostgresCluster? _cluster;
    private HermesApiFactory? _factory;
    private HttpClient? _client;
    private NpgsqlDataSource? _dataSource;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = false, StopWithProcessId = Environment.ProcessId },
            CancellationToken.None);
        await _cluster.CreateDatabaseAsync("hermes");
        var connectionString = new NpgsqlConnectionStringBuilder(_cluster.ConnectionString("hermes")) { Timeout = 3 }.ConnectionString;
        _dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var context = PersistenceExtensions.CreateContext(_dataSource))
        {
            await new HermesMigrator(context).MigrateAsync(null, CancellationToken.None);
        }

        _factory = new HermesApiFactory(connectionString);
        _client = _factory.CreateApiClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        (_client, _factory, _dataSource, _cluster) = (null, null, null, null);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    [Test]
    public async Task Database_down_is_503_with_nothing_half_written_then_recovers_without_restart()
    {
        var accepted = 0;
        using (var before = await SubmitAsync("/api/leads"))
        {
            Assert.That(before.StatusCode, Is.EqualTo(HttpStatusCode.Created));
            accepted++;
        }

        await _cluster!.StopAsync();
        try
        {
            foreach (var path in new[] { "/api/leads", "/api/backup-lead", "/api/leads" })
            {
                using var down = await SubmitAsync(path, idempotencyKey: Guid.NewGuid().ToString());
                var text = await down.Content.ReadAsStringAsync();
                Assert.That((int)down.StatusCode, Is.EqualTo(503), text);
                Assert.That(down.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
                Assert.That(down.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(5)));
                Assert.That(text, Does.Not.Contain("Npgsql").And.Not.Contain("   at ").And.Not.Contain("127.0.0.1"));
            }
        }
        finally
        {
            await _cluster.StartAgainAsync();
            // The test's own pool (not the API's) still holds connections the stop terminated.
            _dataSource!.Clear();
        }

        // The pool finds its broken connections and opens new ones: within a few seconds, without a restart.
        var clock = Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            using var after = await SubmitAsync("/api/leads");
            status = after.StatusCode;
            if (status == HttpStatusCode.Created)
            {
                accepted++;
            }
            else
            {
                Assert.That((int)status, Is.EqualTo(503), "only 503 while the pool recovers");
                await Task.Delay(100);
            }
        }
        while (status != HttpStatusCode.Created && clock.Elapsed < TimeSpan.FromSeconds(20));

        Assert.That(status, Is.EqualTo(HttpStatusCode.Created), "the API recovered once the database was back");
        Assert.That(await ScalarAsync("SELECT count(*) FROM hermes_leads"), Is.EqualTo(accepted));
        Assert.That(await ScalarAsync("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(accepted));
        Assert.That(await ScalarAsync("SELECT count(*) FROM hermes_leads l WHERE NOT EXISTS (SELECT 1 FROM hermes_outbox o WHERE o.lead_id = l.id)"), Is.Zero);
    }

    private async Task<HttpResponseMessage> SubmitAsync(string path, string? idempotencyKey = null)
    {
        var form = JsonSerializerForm();
        var body = path == "/api/backup-lead" ? new JsonObject { ["formData"] = form } : form;
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await _client!.SendAsync(request);
    }

    private static JsonObject JsonSerializerForm() =>
        System.Text.Json.JsonSerializer.SerializeToNode(Infrastructure.TestData.ValidForm(), System.Text.Json.JsonSerializerOptions.Web)!.AsObject();

    private async Task<long> ScalarAsync(string sql)
    {
        await using var command = _dataSource!.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
