using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Observability;
using Hermes.Tests.Worker;

namespace Hermes.Tests.Monitoring;

/// <summary>
/// <c>/metrics</c> of both real hosts, without any OTLP endpoint: after a lead went in through the API and out
/// through the worker to a receiver, the exposition carries Hermes' meters and the ASP.NET Core, HttpClient,
/// runtime and Npgsql ones, with the values that traffic produced. Both hosts run in this one process here, and a
/// MeterListener hears every meter of its name in the process, so each scrape also shows the other host's meters;
/// host-specific figures are told apart by <c>otel_scope_name</c>.
/// </summary>
[NonParallelizable]
public sealed class MetricsEndpointTests : DatabaseTest
{
    [Test]
    public async Task Both_hosts_serve_their_meters_and_the_instrumentation_ones_for_Prometheus()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "" });
        using var client = api.CreateApiClient();
        using (var accepted = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm(), JsonSerializerOptions.Web))
        {
            Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Created).Or.EqualTo(HttpStatusCode.Accepted).Or.EqualTo(HttpStatusCode.OK));
        }

        using (var rejected = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm() with { Email = "not an email" }, JsonSerializerOptions.Web))
        {
            Assert.That((int)rejected.StatusCode, Is.InRange(400, 499));
        }

        await ExecuteAsync("INSERT INTO hermes_outbox (lead_id, type, payload, status, attempts) SELECT lead_id, type, payload, 'failed', 1 FROM hermes_outbox LIMIT 1");
        await using var worker = await ObservedWorker.StartAsync(ConnectionString, receiver.Url);
        await receiver.WaitForAsync(1);
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'") == 1, "the lead is delivered");

        var apiText = await ScrapeAsync(client);
        var workerText = await ScrapeAsync(worker.Http);
        var apiMetrics = Exposition.Parse(apiText);
        var workerMetrics = Exposition.Parse(workerText);
        TestContext.Out.WriteLine("API: " + string.Join(" ", apiMetrics.Names.Order(StringComparer.Ordinal)));
        TestContext.Out.WriteLine("Worker: " + string.Join(" ", workerMetrics.Names.Order(StringComparer.Ordinal)));
        Assert.Multiple(() =>
        {
            Assert.That(apiMetrics.Value("hermes_leads_accepted_total"), Is.EqualTo(1), apiText);
            Assert.That(apiMetrics.Value("hermes_leads_rejected_total"), Is.EqualTo(1));
            Assert.That(apiMetrics.Value("hermes_database_up", ("otel_scope_name", "Hermes.Api")), Is.EqualTo(1));
            Assert.That(apiMetrics.Value("http_server_request_duration_seconds_count", ("http_route", "/api/leads")), Is.EqualTo(2), "both submissions were timed");
            Assert.That(apiMetrics.Names.Any(static n => n.StartsWith("dotnet_", StringComparison.Ordinal)), Is.True, "runtime meter");
            Assert.That(apiMetrics.Names.Any(static n => n.StartsWith("db_client_", StringComparison.Ordinal)), Is.True, "Npgsql meter");
            Assert.That(apiMetrics.Series("http_server_request_duration_seconds_count").Any(static s => s.Labels.GetValueOrDefault("http_route") == "/metrics"), Is.False, "scrapes are not traffic");

            Assert.That(workerMetrics.Value("hermes_outbox_deliveries_total", ("outcome", "delivered")), Is.EqualTo(1), workerText);
            Assert.That(workerMetrics.Value("hermes_outbox_pending"), Is.EqualTo(0));
            Assert.That(workerMetrics.Value("hermes_outbox_failed"), Is.EqualTo(1));
            Assert.That(workerMetrics.Value("hermes_outbox_circuit_status", ("state", "closed")), Is.EqualTo(1), "one series per state, 1 for the current one");
            Assert.That(workerMetrics.Value("hermes_outbox_circuit_status", ("state", "half-open")), Is.EqualTo(0));
            Assert.That(workerMetrics.Value("hermes_outbox_circuit_status", ("state", "open")), Is.EqualTo(0));
            Assert.That(workerMetrics.Names, Does.Not.Contain("hermes_outbox_circuit_state"), "the old bare number is gone");
            Assert.That(workerMetrics.Value("hermes_database_up", ("otel_scope_name", "Hermes.Outbox")), Is.EqualTo(1));
            Assert.That(apiText + workerText, Does.Not.Contain("Password").IgnoreCase, "Npgsql's pool names carry no password");
            Assert.That(workerMetrics.Value("hermes_database_size_bytes"), Is.GreaterThan(1_000_000), "pg_database_size of a migrated database");
            Assert.That(workerMetrics.Value("hermes_database_xmin_horizon_age_seconds"), Is.GreaterThanOrEqualTo(0).And.LessThan(600), "no transaction of this test is held open");
            Assert.That(workerMetrics.Series("hermes_database_dead_tuples").Select(static s => s.Labels["db_collection_name"]),
                Is.EquivalentTo(new[] { "hermes_outbox", "hermes_leads", "hermes_delivery_attempts" }));
            Assert.That(workerMetrics.Series("hermes_database_live_tuples").Select(static s => s.Labels["db_collection_name"]), Has.Exactly(3).Items);
            Assert.That(workerMetrics.Value("hermes_database_attempt_partitions_ahead_seconds"), Is.GreaterThan(7 * 86400).And.LessThanOrEqualTo(8 * 86400), "today and 7 days ahead");
            Assert.That(workerMetrics.Value("http_client_request_duration_seconds_count"), Is.GreaterThanOrEqualTo(1), "HttpClient meter: the POST to the receiver");
            Assert.That(workerMetrics.Names, Does.Contain("hermes_outbox_delivery_duration_seconds_bucket"));
            Assert.That(workerMetrics.Series("hermes_outbox_delivery_duration_seconds_bucket").Select(static s => s.Labels["le"]), Does.Contain("0.1").And.Contain("15"), "buckets in seconds, not the default milliseconds ones");
            Assert.That(workerMetrics.Value("hermes_outbox_delivery_latency_seconds_count"), Is.EqualTo(1), "commit to delivery: the one delivered lead");
            Assert.That(workerMetrics.Value("hermes_outbox_delivery_latency_seconds_sum"), Is.GreaterThan(0).And.LessThan(60));
            Assert.That(workerMetrics.Names.Any(static n => n.StartsWith("dotnet_", StringComparison.Ordinal)), Is.True, "runtime meter");
            Assert.That(workerMetrics.Names.Any(static n => n.StartsWith("db_client_", StringComparison.Ordinal)), Is.True, "Npgsql meter");
        });
    }

    private static async Task<string> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain").Or.EqualTo("application/openmetrics-text"));
        return text;
    }
}
