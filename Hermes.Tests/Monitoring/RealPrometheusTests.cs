using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Worker;

namespace Hermes.Tests.Monitoring;

/// <summary>
/// Debian's Prometheus, started on a free loopback port with a temporary data directory, scraping the real API and
/// worker every second and evaluating a copy of the shipped rules with short windows and <c>for:</c> durations:
/// PostgreSQL stopped → HermesDatabaseDown fires for both jobs; started again → it resolves; the receiver answering
/// 500 → HermesDeliveriesFailing fires; answering 200 again → it resolves; the admin host's canary failing →
/// HermesCanaryFailing fires, an ok canary → it resolves. What counts is Prometheus' own
/// <c>/api/v1/alerts</c>.
/// </summary>
[NonParallelizable]
public sealed partial class RealPrometheusTests
{
    [Test]
    public async Task Database_and_delivery_alerts_fire_and_resolve_in_a_real_Prometheus()
    {
        await using var hosts = await MonitoredHosts.StartAsync(new Dictionary<string, string?>
        {
            ["Outbox:MaxAttempts"] = "1000",
            ["Outbox:CircuitBreaker:BreakDuration"] = "00:00:01",
        });
        var (client, receiver, cluster, prometheus) = (hosts.Client, hosts.Receiver, hosts.Cluster, hosts.Prometheus);
        using (var accepted = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm(), JsonSerializerOptions.Web))
        {
            Assert.That((int)accepted.StatusCode, Is.InRange(200, 299));
        }

        await receiver.WaitForAsync(1);
        await prometheus.WaitForAsync("both targets up", async () =>
            (await prometheus.QueryAsync("up")).Count(static s => (double)s.Value == 1) == 2);
        await prometheus.WaitForAsync("the delivery is in Prometheus", async () =>
            (await prometheus.QueryAsync("hermes_outbox_deliveries_total{outcome=\"delivered\"}")).Sum(static s => s.Value) >= 1);
        Assert.That(await prometheus.FiringAsync("HermesDatabaseDown"), Is.Empty, "healthy at first");

        await cluster.StopAsync();
        await prometheus.WaitForAsync("HermesDatabaseDown fires for the API and the worker", async () =>
            (await prometheus.FiringAsync("HermesDatabaseDown")).Select(static a => a["job"]).Distinct().Count() == 2);
        var firing = await prometheus.FiringAsync("HermesDatabaseDown");
        Assert.That(firing.Select(static a => a["severity"]).Distinct(), Is.EqualTo(new[] { "critical" }));

        await cluster.StartAgainAsync();
        await prometheus.WaitForAsync("HermesDatabaseDown resolves", async () => (await prometheus.ActiveAsync("HermesDatabaseDown")).Count == 0);

        receiver.Behaviour = static (_, context) => WebhookReceiver.Json(500, """{"error": "workflow failed"}""")(context);
        for (var i = 0; i < 3; i++)
        {
            using var accepted = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm($"down{i}@example.com"), JsonSerializerOptions.Web);
            Assert.That((int)accepted.StatusCode, Is.InRange(200, 299));
        }

        await prometheus.WaitForAsync("HermesDeliveriesFailing fires", async () => (await prometheus.FiringAsync("HermesDeliveriesFailing")).Count == 1);
        receiver.Behaviour = static (_, context) => WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context);
        await prometheus.WaitForAsync("HermesDeliveriesFailing resolves", async () => (await prometheus.ActiveAsync("HermesDeliveriesFailing")).Count == 0);
        Assert.That(await prometheus.QueryAsync("hermes_outbox_pending"), Has.Some.Matches<PromSample>(static s => s is { Value: 0 }), "the backlog drained");
    }

    [Test]
    public async Task Canary_alert_fires_while_canaries_fail_and_resolves_on_the_next_ok_one_in_a_real_Prometheus()
    {
        const string secret = "real-prometheus-canary-secret-0123456789";
        await using var hosts = await MonitoredHosts.StartAsync(
            new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "1", ["Outbox:CircuitBreaker:BreakDuration"] = "00:00:01" },
            new Dictionary<string, string?> { ["HERMES_CANARY_SECRET"] = secret });
        hosts.Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(500, """{"message": "Workflow could not be started"}""")(context);
        await using var admin = new HermesAdminFactory(hosts.ConnectionString, "real-prometheus-admin-key-0123456789abcdef", new Dictionary<string, string?>
        {
            ["HERMES_CANARY_SECRET"] = secret,
            ["Canary:ApiUrl"] = hosts.Api.ServerAddress.ToString(),
            ["Canary:Interval"] = "00:00:01",
            ["Canary:Timeout"] = "00:00:03",
        }, managementPort: HermesApiFactory.FreePort());

        // The shipped canary rules with their windows (30 minutes, an hour) at 10 s and every for: at 2 s; Prometheus
        // scrapes the admin host's management port under the job name the compose and Kubernetes configs give it.
        var rules = CanaryForDuration().Replace(CanaryWindow().Replace(File.ReadAllText(Path.Combine(MonitoringTools.RulesDirectory, "alerts.yml")), "[10s]"), "for: 2s");
        await using var prometheus = await PrometheusUnderTest.StartAsync(MonitoringTools.Prometheus, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: [alerts.yml]
            scrape_configs:
              - job_name: hermes-admin
                static_configs: [{"{"} targets: ["{admin.ManagementAddress.Authority}"] {"}"}]
            """, new Dictionary<string, string> { ["alerts.yml"] = rules });

        await prometheus.WaitForAsync("HermesCanaryFailing fires for the admin host", async () =>
            (await prometheus.FiringAsync("HermesCanaryFailing")).Any(static a => a["job"] == "hermes-admin"));
        var failed = await prometheus.QueryAsync("sum by (outcome) (hermes_canary_runs_total)");
        Assert.That(failed.Select(static s => s.Labels["outcome"]), Has.None.EqualTo("ok").And.Some.AnyOf("failed", "timeout"), "n8n answered 500: no ok canary yet");
        Assert.That((await prometheus.FiringAsync("HermesCanaryFailing")).Single()["severity"], Is.EqualTo("critical"));

        hosts.Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(200, """{"canary": true, "contract": 2}""")(context);
        await prometheus.WaitForAsync("HermesCanaryFailing resolves on the next ok canary", async () => (await prometheus.ActiveAsync("HermesCanaryFailing")).Count == 0);
        Assert.That(await prometheus.QueryAsync("hermes_canary_duration_seconds_count{outcome=\"ok\"}"), Has.Some.Matches<PromSample>(static s => s is { Value: >= 1 }),
            "the histogram HermesCanarySlow reads, as Prometheus stores it");
        Assert.That(await prometheus.FiringAsync("HermesCanarySlow"), Is.Empty, "canaries of a few hundred milliseconds are not slow");
    }

    [GeneratedRegex(@"\[(30m|1h)\]")]
    private static partial Regex CanaryWindow();

    [GeneratedRegex(@"for: \d+m")]
    private static partial Regex CanaryForDuration();
}

/// <summary>One instant-vector sample of a Prometheus query.</summary>
public sealed record PromSample(IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>One series of a Prometheus range query: its labels and its values, oldest first.</summary>
public sealed record PromSeries(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<double> Values);

/// <summary>A Prometheus process of the test's own: generated config and rules, temporary data, a free port.</summary>
public sealed partial class PrometheusUnderTest : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _directory;
    private readonly HttpClient _http;
    private readonly System.Text.StringBuilder _output = new();

    private PrometheusUnderTest(Process process, DirectoryInfo directory, Uri address)
    {
        _process = process;
        _directory = directory;
        _http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>The shipped rules with windows of 20 s and every <c>for:</c> at 2 s, so alerts move within seconds.</summary>
    public static string FastRules(string rules) =>
        ForDuration().Replace(Window().Replace(rules, "[20s]"), "for: 2s");

    public static Task<PrometheusUnderTest> StartAsync(string binary, Uri api, Uri worker)
    {
        var rules = FastRules(File.ReadAllText(Path.Combine(MonitoringTools.RulesDirectory, "alerts.yml")));
        return StartAsync(binary, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: [alerts.yml]
            scrape_configs:
              - job_name: hermes-api
                static_configs: [{"{"} targets: ["{api.Authority}"] {"}"}]
              - job_name: hermes-worker
                static_configs: [{"{"} targets: ["{worker.Authority}"] {"}"}]
            """, new Dictionary<string, string> { ["alerts.yml"] = rules });
    }

    /// <summary>Prometheus with <paramref name="config"/> as its prometheus.yml and <paramref name="files"/> next to it.</summary>
    public static async Task<PrometheusUnderTest> StartAsync(string binary, string config, IReadOnlyDictionary<string, string>? files = null)
    {
        var directory = Directory.CreateTempSubdirectory("hermes-prometheus-");
        foreach (var (name, text) in files ?? new Dictionary<string, string>())
        {
            File.WriteAllText(Path.Combine(directory.FullName, name), text);
        }

        File.WriteAllText(Path.Combine(directory.FullName, "prometheus.yml"), config);
        var port = FreePort();
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory.FullName,
        };
        foreach (var argument in new[]
        {
            "--config.file=" + Path.Combine(directory.FullName, "prometheus.yml"),
            "--storage.tsdb.path=" + Path.Combine(directory.FullName, "data"),
            $"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
        var prometheus = new PrometheusUnderTest(process, directory, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => prometheus.Log(e.Data);
        process.ErrorDataReceived += (_, e) => prometheus.Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await prometheus.WaitForAsync("Prometheus is ready", async () =>
        {
            try
            {
                using var ready = await prometheus._http.GetAsync("/-/ready");
                return ready.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });
        return prometheus;
    }

    public async Task<IReadOnlyList<PromSample>> QueryAsync(string promql)
    {
        var json = await GetJsonAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        var data = json["data"]!;
        if ((string?)data["resultType"] != "vector")
        {
            throw new AssertionException($"{promql}: not an instant vector but {data["resultType"]}");
        }

        return [.. data["result"]!.AsArray().Select(static r => new PromSample(
            r!["metric"]!.AsObject().ToDictionary(static p => p.Key, static p => (string)p.Value!),
            double.Parse((string)r["value"]![1]!, System.Globalization.CultureInfo.InvariantCulture)))];
    }

    /// <summary>
    /// What Grafana would get for <paramref name="promql"/>: an instant query at <paramref name="end"/> or a range query
    /// over the range; the series, or null and Prometheus' error when it refused the expression.
    /// </summary>
    public async Task<(IReadOnlyList<PromSeries>? Result, string? Error)> EvaluateAsync(string promql, bool instant, DateTimeOffset start, DateTimeOffset end, TimeSpan step)
    {
        var path = instant
            ? $"/api/v1/query?query={Uri.EscapeDataString(promql)}&time={Seconds(end)}"
            : $"/api/v1/query_range?query={Uri.EscapeDataString(promql)}&start={Seconds(start)}&end={Seconds(end)}&step={step.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        using var response = await _http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        var json = JsonNode.Parse(text)!;
        if (response.StatusCode != HttpStatusCode.OK || (string?)json["status"] != "success")
        {
            return (null, $"{(int)response.StatusCode} {json["errorType"]}: {json["error"]}");
        }

        var data = json["data"]!;
        var expected = instant ? "vector" : "matrix";
        if ((string?)data["resultType"] != expected)
        {
            return (null, $"a {data["resultType"]} where Grafana wants a {expected}");
        }

        return ([.. data["result"]!.AsArray().Select(r => new PromSeries(
            r!["metric"]!.AsObject().ToDictionary(static p => p.Key, static p => (string)p.Value!),
            instant
                ? [Number(r["value"]![1]!)]
                : [.. r["values"]!.AsArray().Select(static v => Number(v![1]!))]))], null);
    }

    private static double Number(JsonNode value) => double.Parse((string)value!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The values of <paramref name="label"/> on the series matching <paramref name="match"/> (what Grafana's <c>label_values</c> asks).</summary>
    public async Task<IReadOnlyList<string>> LabelValuesAsync(string label, string? match, DateTimeOffset start, DateTimeOffset end)
    {
        var query = $"/api/v1/label/{Uri.EscapeDataString(label)}/values?start={Seconds(start)}&end={Seconds(end)}" + (match is null ? "" : "&match[]=" + Uri.EscapeDataString(match));
        var json = await GetJsonAsync(query);
        return [.. json["data"]!.AsArray().Select(static v => (string)v!)];
    }

    private static string Seconds(DateTimeOffset time) => (time.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The labels of the alerts named <paramref name="name"/> that are firing.</summary>
    public async Task<IReadOnlyList<IReadOnlyDictionary<string, string>>> FiringAsync(string name) =>
        [.. (await AlertsAsync(name)).Where(static a => a.State == "firing").Select(static a => a.Labels)];

    /// <summary>The alerts named <paramref name="name"/> that are pending or firing.</summary>
    public async Task<IReadOnlyList<(string State, IReadOnlyDictionary<string, string> Labels)>> ActiveAsync(string name) => await AlertsAsync(name);

    private async Task<IReadOnlyList<(string State, IReadOnlyDictionary<string, string> Labels)>> AlertsAsync(string name)
    {
        var json = await GetJsonAsync("/api/v1/alerts");
        return [.. json["data"]!["alerts"]!.AsArray()
            .Select(static a => ((string)a!["state"]!, (IReadOnlyDictionary<string, string>)a["labels"]!.AsObject().ToDictionary(static p => p.Key, static p => (string)p.Value!)))
            .Where(a => a.Item2.GetValueOrDefault("alertname") == name)];
    }

    public async Task<JsonNode> GetJsonAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), path + ": " + text);
        var json = JsonNode.Parse(text)!;
        Assert.That((string?)json["status"], Is.EqualTo("success"), text);
        return json;
    }

    public async Task WaitForAsync(string what, Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (_process.HasExited)
            {
                Assert.Fail($"Prometheus exited ({_process.ExitCode}) while waiting until {what}:\n{Output}");
            }

            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Timed out after {limit} waiting until {what}. Alerts: {(await GetJsonAsync("/api/v1/alerts")).ToJsonString()}\n{Output}");
            }

            await Task.Delay(250);
        }

        TestContext.Out.WriteLine($"{what}: {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _directory.Delete(recursive: true);
    }

    [GeneratedRegex(@"\[5m\]")]
    private static partial Regex Window();

    [GeneratedRegex(@"for: \d+m")]
    private static partial Regex ForDuration();
}
