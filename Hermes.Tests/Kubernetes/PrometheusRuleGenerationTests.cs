using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.Kubernetes;

/// <summary>
/// The PrometheusRule (Prometheus Operator) and the rules ConfigMap (a Prometheus run by hand) are generated from
/// deploy/monitoring/prometheus/alerts.yml by deploy/k8s/generate-prometheus-rules.sh; the PodMonitor scrapes the pods
/// under the job names those rules select.
/// </summary>
public sealed partial class PrometheusRuleGenerationTests
{
    private static string AlertsFile => RepositoryFiles.PathOf("deploy", "monitoring", "prometheus", "alerts.yml");

    [Test]
    public async Task The_committed_files_are_exactly_what_the_script_writes()
    {
        var bash = ExternalTool.Require("bash", "bash runs deploy/k8s/generate-prometheus-rules.sh.");
        var folder = Directory.CreateTempSubdirectory("hermes-rules-");
        try
        {
            var run = await ExternalTool.RunAsync(bash, [RepositoryFiles.PathOf("deploy", "k8s", "generate-prometheus-rules.sh"), folder.FullName]);
            Assert.That(run.ExitCode, Is.Zero, run.Describe());

            foreach (var file in new[] { "prometheus-rule.yaml", "prometheus-rules-configmap.yaml" })
            {
                Assert.That(File.ReadAllText(Path.Combine(folder.FullName, file)), Is.EqualTo(RepositoryFiles.Read("deploy", "k8s", "base", file)),
                    $"deploy/k8s/base/{file} differs from what deploy/k8s/generate-prometheus-rules.sh writes: run the script");
            }

            Assert.That(Directory.GetFiles(folder.FullName).Select(Path.GetFileName), Is.EquivalentTo(new[] { "prometheus-rule.yaml", "prometheus-rules-configmap.yaml" }));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [TestCaseSource(typeof(ManifestSchemaTests), nameof(ManifestSchemaTests.Overlays))]
    public async Task The_rendered_prometheus_rule_holds_the_groups_of_alerts_yml_and_the_config_map_the_file_itself(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);
        var alerts = Kustomize.ReadYamlFile(AlertsFile)!.AsObject();

        var rule = Kustomize.Single(objects, "PrometheusRule", "hermes");
        Assert.That(JsonNode.DeepEquals(rule["spec"], alerts), Is.True, "the PrometheusRule's spec is alerts.yml, parsed");
        Assert.That(rule["spec"]!["groups"]!.AsArray().SelectMany(static g => g!["rules"]!.AsArray()).Count(static r => r!["alert"] is not null), Is.GreaterThan(5));

        var map = Kustomize.Single(objects, "ConfigMap", "hermes-prometheus-rules");
        Assert.That(map["data"]!["hermes-alerts.yml"]!.GetValue<string>() == File.ReadAllText(AlertsFile), Is.True, "the ConfigMap holds alerts.yml byte for byte");
    }

    [TestCaseSource(typeof(ManifestSchemaTests), nameof(ManifestSchemaTests.Overlays))]
    public async Task The_pod_monitor_scrapes_each_program_on_its_metrics_port_under_the_job_name_the_rules_select(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);
        var monitor = Kustomize.Single(objects, "PodMonitor", "hermes");
        Assert.That(monitor["spec"]!["jobLabel"]!.GetValue<string>(), Is.EqualTo("app.kubernetes.io/name"));
        var endpoints = monitor["spec"]!["podMetricsEndpoints"]!.AsArray();

        var jobs = new List<string>();
        foreach (var deployment in objects.Where(static o => Kustomize.KindOf(o) == "Deployment"))
        {
            var template = Kustomize.PodTemplate(deployment);
            var labels = template["metadata"]!["labels"]!.AsObject().ToDictionary(static l => l.Key, static l => l.Value!.GetValue<string>());
            Assert.That(NetworkPolicyModel.Selects(monitor["spec"]!["selector"], labels), Is.True, $"{Kustomize.NameOf(deployment)} is selected");
            var ports = template["spec"]!["containers"]![0]!["ports"]!.AsArray().ToDictionary(static p => p!["name"]!.GetValue<string>(), static p => p!["containerPort"]!.GetValue<int>());
            var scraped = endpoints.Where(e => ports.ContainsKey(e!["port"]!.GetValue<string>())).ToList();
            Assert.That(scraped, Has.Count.EqualTo(1), $"{Kustomize.NameOf(deployment)}: one endpoint names one of its ports");
            var port = ports[scraped[0]!["port"]!.GetValue<string>()];
            Assert.That(port, Is.EqualTo(int.Parse(template["metadata"]!["annotations"]!["prometheus.io/port"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)),
                "the port the plain-Prometheus annotations name");
            Assert.That(scraped[0]!["path"]!.GetValue<string>(), Is.EqualTo("/metrics"));
            jobs.Add(labels["app.kubernetes.io/name"]);
        }

        var selected = JobSelector().Matches(File.ReadAllText(AlertsFile)).Select(static m => m.Groups["job"].Value).Distinct().ToList();
        Assert.That(selected, Is.Not.Empty);
        Assert.That(jobs, Is.SupersetOf(selected));
    }

    [GeneratedRegex(@"job=""(?<job>[a-z-]+)""")]
    private static partial Regex JobSelector();
}
