using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Tests.Api;
using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;

namespace Hermes.Tests.Observability;

/// <summary>
/// The built API and worker as their own processes, configured only by the standard <c>OTEL_*</c> variables,
/// exporting to a loopback OTLP/HTTP collector: traces, metrics and logs from both, one trace id across them,
/// the resource as configured, no personal data in exported logs. The worker also writes JSON console lines
/// (<c>HERMES_LOG_FORMAT=json</c>). And without an endpoint, nothing of the SDK is even registered.
/// </summary>
public sealed class OtlpExportTests : DatabaseTest
{
    /// <summary>Each test reads back the one lead it submitted.</summary>
    [SetUp]
    public Task EmptyTablesAsync() => EmptyLeadTablesAsync();

    [Test]
    public async Task Both_hosts_export_traces_metrics_and_logs_of_one_lead_to_the_configured_endpoint()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var otel = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.region=otlp-test-region",
        };

        await using var api = ChildProcess.Start("api", ChildProcess.HostAssembly("Hermes.Api"), new Dictionary<string, string>(otel)
        {
            ["ConnectionStrings__Hermes"] = ConnectionString,
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Hermes"] = "Debug", // the line per stored lead (event 3001)
        });
        await using var worker = ChildProcess.Start("worker", ChildProcess.HostAssembly("Hermes.Outbox.Worker"), new Dictionary<string, string>(otel)
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString),
            ["N8N_WEBHOOK_URL"] = receiver.Url.ToString(),
            ["OTEL_SERVICE_NAME"] = "worker-named-by-otel-service-name",
            ["Outbox__PollInterval"] = "00:00:00.200",
            ["HERMES_LOG_FORMAT"] = "json",
            ["Logging__Console__FormatterName"] = "",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Hermes"] = "Debug",
        }, "run");
        var apiAddress = await api.WaitListeningAsync(TimeSpan.FromSeconds(60));
        await worker.WaitListeningAsync(TimeSpan.FromSeconds(60));

        var form = TestData.ValidForm();
        using (var http = new HttpClient { BaseAddress = apiAddress })
        using (var response = await http.PostAsJsonAsync("/api/leads", form, JsonSerializerOptions.Web))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        }

        var delivered = (await receiver.WaitForAsync(1))[0];
        Assert.That(ActivityContext.TryParse(delivered.Header("traceparent"), null, out var context), Is.True, "the receiver saw a traceparent");
        var traceId = Convert.FromHexString(context.TraceId.ToHexString());
        var leadId = await ScalarAsync<string>("SELECT lead_id FROM hermes_leads");

        var apiTrace = await collector.WaitForAsync("traces", e => e.ServiceName() == "hermes-api" && e.Contains(traceId), "from hermes-api carrying the lead's trace id");
        var workerTrace = await collector.WaitForAsync("traces", e => e.ServiceName() == "worker-named-by-otel-service-name" && e.Contains(traceId) && e.Contains("hermes.outbox.deliver"), "from the worker with the delivery span in the same trace");
        // The instrumentation libraries' spans, in the same trace: ASP.NET Core's server span with its route, Npgsql's
        // with the database system, HttpClient's client span towards n8n.
        await collector.WaitForAsync("traces", e => e.ServiceName() == "hermes-api" && e.Contains(traceId) && e.Contains("http.route") && e.Contains("/api/leads"), "from hermes-api with ASP.NET Core's http.route");
        await collector.WaitForAsync("traces", e => e.ServiceName() == "hermes-api" && e.Contains(traceId) && e.Contains("postgresql"), "from hermes-api with Npgsql's database span");
        await collector.WaitForAsync("traces", e => e.ServiceName() == "worker-named-by-otel-service-name" && e.Contains(traceId) && e.Contains("http.request.method") && e.Contains("server.address"), "from the worker with HttpClient's client span");
        var apiMetrics = await collector.WaitForAsync("metrics", static e => e.ServiceName() == "hermes-api" && e.Contains("hermes.leads.accepted"), "from hermes-api with hermes.leads.accepted");
        var workerMetrics = await collector.WaitForAsync("metrics", static e => e.ServiceName() == "worker-named-by-otel-service-name" && e.Contains("hermes.outbox.deliveries"), "from the worker with hermes.outbox.deliveries");
        var apiLogs = await collector.WaitForAsync("logs", e => e.ServiceName() == "hermes-api" && e.Contains(leadId), "from hermes-api naming the stored lead");

        Assert.Multiple(() =>
        {
            foreach (var export in new[] { apiTrace, workerTrace, apiMetrics, workerMetrics, apiLogs })
            {
                Assert.That(export.ContentType, Is.EqualTo("application/x-protobuf"), export.Signal);
                Assert.That(export.Contains("otlp-test-region"), Is.True, $"OTEL_RESOURCE_ATTRIBUTES on the {export.Signal} resource");
                Assert.That(export.Contains("Production"), Is.True, $"the environment on the {export.Signal} resource");
            }

            Assert.That(collector.Exports.Select(static e => e.ServiceName()).Distinct(), Is.EquivalentTo(new[] { "hermes-api", "worker-named-by-otel-service-name" }), "OTEL_SERVICE_NAME replaces the worker's default name");
            var allLogs = collector.Exports.Where(static e => e.Signal == "logs").ToList();
            Assert.That(allLogs.Any(e => e.Contains(form.Email!)), Is.False, "no email in exported logs");
            Assert.That(allLogs.Any(e => e.Contains(form.PhoneNumber!)), Is.False, "no phone number in exported logs");
        });

        // The worker's console: one JSON object per line, with scopes carrying the lead and outbox ids.
        await WaitUntilAsync(() => Task.FromResult(worker.Output.Contains("\"EventId\":4001", StringComparison.Ordinal)), "the worker logged the delivery", TimeSpan.FromSeconds(30));
        var lines = worker.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var json = lines.Where(static l => l.StartsWith('{')).Select(static l => JsonNode.Parse(l)!.AsObject()).ToList();
        var deliveryLine = json.First(static l => (int?)l["EventId"] == 4001);
        Assert.Multiple(() =>
        {
            Assert.That(json, Has.Count.EqualTo(lines.Length), "every console line is a JSON object:\n" + worker.Output);
            Assert.That(json.Select(static l => (string?)l["Category"]), Does.Contain("Microsoft.Hosting.Lifetime"));
            Assert.That((string?)deliveryLine["LogLevel"], Is.EqualTo("Debug"), "one line per delivery, at Debug");
            Assert.That(deliveryLine["Scopes"]!.ToJsonString(), Does.Contain(leadId).And.Contain("OutboxId"));
        });
    }

    [Test]
    public async Task Otel_keys_in_the_host_configuration_reach_the_exporters_not_only_environment_variables()
    {
        // The built API with every OTEL_* key on its command line (a configuration source like appsettings), none in
        // its environment: the switch, the resource and all three exporters must read the same configuration.
        await using var collector = await OtlpCollector.StartAsync();
        await using var api = ChildProcess.Start("api", ChildProcess.HostAssembly("Hermes.Api"), new Dictionary<string, string>
        {
            ["ConnectionStrings__Hermes"] = ConnectionString,
            ["Logging__LogLevel__Hermes"] = "Debug", // the line per stored lead (event 3001)
        },
        $"--OTEL_EXPORTER_OTLP_ENDPOINT={collector.Endpoint.ToString().TrimEnd('/')}",
        "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        "--OTEL_BSP_SCHEDULE_DELAY=200",
        "--OTEL_BLRP_SCHEDULE_DELAY=200",
        "--OTEL_METRIC_EXPORT_INTERVAL=500",
        "--OTEL_SERVICE_NAME=api-configured-on-the-command-line");
        var address = await api.WaitListeningAsync(TimeSpan.FromSeconds(60));

        using (var http = new HttpClient { BaseAddress = address })
        using (var response = await http.PostAsJsonAsync("/api/leads", TestData.ValidForm(), JsonSerializerOptions.Web))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        var leadId = await ScalarAsync<string>("SELECT lead_id FROM hermes_leads");
        Assert.That(ActivityContext.TryParse(await ScalarAsync<string>("SELECT traceparent FROM hermes_outbox"), null, out var submission), Is.True);
        var traceId = Convert.FromHexString(submission.TraceId.ToHexString());
        await collector.WaitForAsync("traces", e => e.ServiceName() == "api-configured-on-the-command-line" && e.Contains(traceId), "of the submission, naming the service from the command line");
        await collector.WaitForAsync("metrics", static e => e.ServiceName() == "api-configured-on-the-command-line" && e.Contains("hermes.leads.accepted"), "with hermes.leads.accepted");
        await collector.WaitForAsync("logs", e => e.ServiceName() == "api-configured-on-the-command-line" && e.Contains(leadId), "naming the stored lead");
    }

    [Test]
    public async Task Without_an_endpoint_no_part_of_the_sdk_is_registered()
    {
        await using var api = new HermesApiFactory(ConnectionString);
        using var client = api.CreateApiClient();
        var providers = api.Services.GetServices<ILoggerProvider>().Select(static p => p.GetType().FullName).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(api.Services.GetService<OpenTelemetrySdk>(), Is.Null);
            Assert.That(providers, Has.None.Contains("OpenTelemetry"), string.Join(", ", providers));
        });
    }
}
