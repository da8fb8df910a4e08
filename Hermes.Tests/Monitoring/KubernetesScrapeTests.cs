using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Monitoring;

/// <summary>
/// The Kubernetes scrape job (deploy/monitoring/prometheus/kubernetes.yml) against the pods the production overlay of deploy/k8s makes. No cluster
/// runs here, and Debian's Prometheus is built without the Kubernetes discovery (its promtool refuses
/// <c>kubernetes_sd_configs</c>), so the discovery's part is played by the test: for every pod the manifests would
/// create (each Deployment's template times its replicas, the migrate Job's template once) it writes the target and the
/// <c>__meta_kubernetes_pod_*</c> labels Prometheus' Kubernetes discovery documents (one target per container port,
/// annotation and label names sanitised to <c>[a-zA-Z0-9_]</c>) into a static target group. The shipped relabel rules
/// then run in a real Prometheus, and its <c>/api/v1/targets</c> says what they made of each pod.
/// </summary>
[NonParallelizable]
public sealed partial class KubernetesScrapeTests
{
    [Test]
    public async Task The_shipped_scrape_job_keeps_the_annotated_pods_on_their_health_port_under_the_job_names_the_rules_use()
    {
        var prometheusBinary = MonitoringTools.Prometheus;
        var shipped = YamlJson.Read(Path.Combine(MonitoringTools.RulesDirectory, "kubernetes.yml"));
        var job = shipped["scrape_configs"]!.AsArray().Single()!.AsObject();
        var discovery = job["kubernetes_sd_configs"]!.AsArray().Single()!;
        Assert.That(discovery["role"]!.GetValue<string>(), Is.EqualTo("pod"));
        Assert.That(discovery["namespaces"]!["names"]!.AsArray().Select(static n => n!.GetValue<string>()), Is.EqualTo(new[] { "hermes" }));
        Assert.That(shipped["rule_files"]!.AsArray().Select(static r => r!.GetValue<string>()), Is.EqualTo(new[] { "/etc/prometheus/rules/*.yml" }),
            "where docs/monitoring.md says to mount the rules ConfigMap");

        // The pods the production overlay would run, each on an address of TEST-NET-1 (nothing answers there: only the targets matter).
        var objects = await KubernetesManifests.LoadAsync();
        var pods = new List<(string Name, string Ip, JsonObject Template)>();
        foreach (var workload in objects.Where(static o => o["kind"]!.GetValue<string>() is "Deployment" or "Job" or "CronJob"))
        {
            // A Deployment whose count an autoscaler owns names no replicas: two pods stand for it; a Job or CronJob, one.
            var replicas = workload["kind"]!.GetValue<string>() == "Deployment" ? workload["spec"]!["replicas"]?.GetValue<int>() ?? 2 : 1;
            for (var i = 0; i < replicas; i++)
            {
                pods.Add(($"{workload["metadata"]!["name"]}-{i}", $"192.0.2.{pods.Count + 10}", Kubernetes.Kustomize.PodTemplate(workload)));
            }
        }

        var groups = new JsonArray();
        foreach (var (name, ip, template) in pods)
        {
            foreach (var container in template["spec"]!["containers"]!.AsArray())
            {
                var ports = container!["ports"]?.AsArray().Select(static p => (int?)p!["containerPort"]!.GetValue<int>()).ToList() ?? [];
                foreach (var port in ports.Count == 0 ? [null] : ports)
                {
                    var labels = new JsonObject
                    {
                        ["__meta_kubernetes_namespace"] = "hermes",
                        ["__meta_kubernetes_pod_name"] = name,
                        ["__meta_kubernetes_pod_ip"] = ip,
                        ["__meta_kubernetes_pod_phase"] = "Running",
                        ["__meta_kubernetes_pod_ready"] = "true",
                        ["__meta_kubernetes_pod_container_name"] = container["name"]!.GetValue<string>(),
                    };
                    if (port is not null)
                    {
                        labels["__meta_kubernetes_pod_container_port_number"] = port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    }

                    foreach (var (kind, values) in new[] { ("label", template["metadata"]!["labels"]), ("annotation", template["metadata"]!["annotations"]) })
                    {
                        foreach (var (key, value) in values?.AsObject() ?? [])
                        {
                            labels[$"__meta_kubernetes_pod_{kind}_{Sanitized().Replace(key, "_")}"] = value!.GetValue<string>();
                            labels[$"__meta_kubernetes_pod_{kind}present_{Sanitized().Replace(key, "_")}"] = "true";
                        }
                    }

                    groups.Add(new JsonObject { ["targets"] = new JsonArray(port is null ? ip : $"{ip}:{port}"), ["labels"] = labels });
                }
            }
        }

        // The shipped job with the test's target groups in place of the Kubernetes discovery; everything else as shipped.
        var tested = job.DeepClone().AsObject();
        tested.Remove("kubernetes_sd_configs");
        tested["static_configs"] = groups;
        var config = new JsonObject
        {
            ["global"] = new JsonObject { ["scrape_interval"] = "1s", ["scrape_timeout"] = "500ms" },
            ["scrape_configs"] = new JsonArray(tested),
        };
        await using var prometheus = await PrometheusUnderTest.StartAsync(prometheusBinary, config.ToJsonString());

        var expected = pods.Where(static p => p.Template["metadata"]!["annotations"]?["prometheus.io/scrape"]?.GetValue<string>() == "true").ToList();
        JsonArray active = [];
        JsonArray dropped = [];
        await prometheus.WaitForAsync("every annotated pod is a target", async () =>
        {
            var data = (await prometheus.GetJsonAsync("/api/v1/targets"))["data"]!;
            active = data["activeTargets"]!.AsArray();
            dropped = data["droppedTargets"]!.AsArray();
            return active.Count == expected.Count;
        });

        Assert.That(expected.Select(static p => p.Template["metadata"]!["labels"]!["app.kubernetes.io/name"]!.GetValue<string>()).Distinct(),
            Is.EquivalentTo(new[] { "hermes-api", "hermes-admin", "hermes-worker" }));
        foreach (var (name, ip, template) in expected)
        {
            var target = active.SingleOrDefault(t => t!["labels"]!["instance"]?.GetValue<string>() == name)
                ?? throw new AssertionException($"{name} is not a target: {active.ToJsonString()}");
            var port = template["metadata"]!["annotations"]!["prometheus.io/port"]!.GetValue<string>();
            Assert.That(target["labels"]!["job"]?.GetValue<string>(), Is.EqualTo(template["metadata"]!["labels"]!["app.kubernetes.io/name"]!.GetValue<string>()), name);
            Assert.That(target["labels"]!["namespace"]?.GetValue<string>(), Is.EqualTo("hermes"), name);
            Assert.That(target["scrapeUrl"]!.GetValue<string>(), Is.EqualTo($"http://{ip}:{port}/metrics"), name + ": the annotated port and path");
            var app = template["metadata"]!["labels"]!["app.kubernetes.io/name"]!.GetValue<string>();
            Assert.That(port, Is.EqualTo(app == "hermes-worker" ? "8081" : "9464"), name + ": the management port (the worker's health port)");
        }

        Assert.That(dropped.Select(static t => t!["discoveredLabels"]!["__meta_kubernetes_pod_name"]?.GetValue<string>()), Is.EquivalentTo(new[] { "hermes-migrate-0", "hermes-cli-0", "hermes-purge-0" }),
            "pods without prometheus.io/scrape are not scraped");
        var rules = File.ReadAllText(Path.Combine(MonitoringTools.RulesDirectory, "alerts.yml"));
        Assert.That(active.Select(static t => t!["labels"]!["job"]?.GetValue<string>()).Distinct(),
            Is.SupersetOf(JobSelector().Matches(rules).Select(static m => m.Groups["job"].Value).Distinct()), "every job alerts.yml selects");
    }

    [GeneratedRegex("[^a-zA-Z0-9_]")]
    private static partial Regex Sanitized();

    [GeneratedRegex(@"job=""(?<job>[a-z-]+)""")]
    private static partial Regex JobSelector();
}
