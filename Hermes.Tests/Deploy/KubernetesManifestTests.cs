using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Hermes.Tests.Deploy;

/// <summary>
/// deploy/k8s as the production overlay renders it (`kubectl kustomize`), with the Secret templates applied by hand:
/// the objects are asserted on. Hermes.Tests/Kubernetes validates them against the published schemas.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    private static readonly Lazy<Task<List<JsonObject>>> AllObjects = new(KubernetesManifests.LoadAsync);

    private static async Task<List<JsonObject>> ObjectsAsync() => await AllObjects.Value;

    private static JsonObject Single(List<JsonObject> objects, string kind, string name) =>
        objects.SingleOrDefault(o => o["kind"]!.GetValue<string>() == kind && o["metadata"]!["name"]!.GetValue<string>() == name)
        ?? throw new AssertionException($"No {kind} {name} in deploy/k8s.");

    private static JsonObject Container(JsonObject workload) =>
        Kubernetes.Kustomize.PodTemplate(workload)["spec"]!["containers"]!.AsArray().Single()!.AsObject();

    private static int ContainerPort(JsonObject container, JsonNode port) =>
        port.GetValueKind() == JsonValueKind.Number
            ? port.GetValue<int>()
            : container["ports"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == port.GetValue<string>())!["containerPort"]!.GetValue<int>();

    private static (string Path, int Port) Probe(JsonObject container, string probe)
    {
        var get = container[probe]?["httpGet"] ?? throw new AssertionException($"{container["name"]} has no {probe} httpGet.");
        return (get["path"]!.GetValue<string>(), ContainerPort(container, get["port"]!));
    }

    [Test]
    public async Task Every_document_parses_into_the_expected_objects()
    {
        var objects = await ObjectsAsync();

        Assert.That(objects.Select(static o => $"{o["kind"]}/{o["metadata"]!["name"]}"), Is.EquivalentTo(new[]
        {
            "Namespace/hermes", "ConfigMap/hermes-config",
            "Deployment/hermes-api", "Service/hermes-api", "PodDisruptionBudget/hermes-api", "HorizontalPodAutoscaler/hermes-api", "Ingress/hermes-api",
            "Deployment/hermes-admin", "Service/hermes-admin",
            "Deployment/hermes-worker", "PodDisruptionBudget/hermes-worker", "ScaledObject/hermes-worker", "TriggerAuthentication/hermes-worker-db",
            "Job/hermes-migrate", "CronJob/hermes-cli", "CronJob/hermes-purge",
            "Cluster/hermes-db", "Pooler/hermes-db-pooler-rw", "ScheduledBackup/hermes-db-nightly", "ObjectStore/hermes-backups",
            "NetworkPolicy/default-deny", "NetworkPolicy/allow-dns", "NetworkPolicy/hermes-api", "NetworkPolicy/hermes-admin",
            "NetworkPolicy/hermes-worker", "NetworkPolicy/hermes-jobs", "NetworkPolicy/hermes-db", "NetworkPolicy/hermes-db-pooler",
            "PodMonitor/hermes", "PodMonitor/hermes-db", "PodMonitor/hermes-db-pooler", "PrometheusRule/hermes",
            "ConfigMap/hermes-prometheus-rules",
            "Secret/hermes-secrets", "Secret/hermes-db-owner", "Secret/hermes-db-api-login", "Secret/hermes-db-worker-login",
            "Secret/hermes-db-admin-login", "Secret/hermes-backup-s3",
        }));
        Assert.That(objects.Where(static o => o["kind"]!.GetValue<string>() != "Namespace").Select(static o => o["metadata"]!["namespace"]?.GetValue<string>()), Has.All.EqualTo("hermes"));
    }

    [Test]
    public async Task Applying_an_overlay_never_applies_a_secret_template_and_the_cli_template_never_runs_by_itself()
    {
        foreach (var overlay in Kubernetes.Kustomize.Overlays)
        {
            var rendered = await Kubernetes.Kustomize.ObjectsAsync(overlay);

            Assert.That(rendered.Select(static o => o["kind"]!.GetValue<string>()), Has.None.EqualTo("Secret"), overlay);
            var template = Single([.. rendered], "CronJob", "hermes-cli");
            Assert.That(template["spec"]!["suspend"]!.GetValue<bool>(), Is.True, overlay + ": the CLI template is a suspended CronJob; Jobs are made from it");
            Assert.That(template["spec"]!["jobTemplate"]!["spec"]!["backoffLimit"]!.GetValue<int>(), Is.Zero, overlay + ": a verb is not retried blindly");
        }
    }

    [Test]
    public async Task The_api_is_probed_on_its_health_endpoints_and_reached_through_its_service()
    {
        var objects = await ObjectsAsync();
        var api = Single(objects, "Deployment", "hermes-api");
        var container = Container(api);

        // Probed on the management port, where health and metrics are served; the Service exposes only the public one.
        Assert.That(Probe(container, "readinessProbe"), Is.EqualTo(("/health/ready", 9464)));
        Assert.That(Probe(container, "livenessProbe"), Is.EqualTo(("/health/live", 9464)));
        Assert.That(Probe(container, "startupProbe"), Is.EqualTo(("/health/live", 9464)));
        AssertListensOnTheManagementPort(container);
        Assert.That(api["spec"]!["replicas"], Is.Null, "the HorizontalPodAutoscaler owns the count");
        var autoscaler = Single(objects, "HorizontalPodAutoscaler", "hermes-api");
        Assert.That(autoscaler["spec"]!["scaleTargetRef"]!["name"]!.GetValue<string>(), Is.EqualTo("hermes-api"));
        Assert.That(autoscaler["spec"]!["minReplicas"]!.GetValue<int>(), Is.GreaterThanOrEqualTo(2));

        var service = Single(objects, "Service", "hermes-api");
        var podLabels = api["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        foreach (var (key, value) in service["spec"]!["selector"]!.AsObject())
        {
            Assert.That(podLabels[key]?.GetValue<string>(), Is.EqualTo(value!.GetValue<string>()), "the Service selects the API pods");
        }

        Assert.That(service["spec"]!["ports"]!.AsArray().Select(p => ContainerPort(container, p!["targetPort"]!)), Is.EqualTo(new[] { 8080 }), "the public port only");
    }

    private static void AssertListensOnTheManagementPort(JsonObject container)
    {
        string? Env(string name) => container["env"]!.AsArray().SingleOrDefault(e => e!["name"]!.GetValue<string>() == name)?["value"]?.GetValue<string>();
        Assert.That(Env("ASPNETCORE_URLS"), Is.EqualTo("http://+:8080;http://+:9464"), container["name"]!.ToString());
        Assert.That(Env("Management__Port"), Is.EqualTo("9464"), container["name"]!.ToString());
    }

    [Test]
    public async Task The_workers_are_replicated_probed_on_8081_and_given_time_to_finish_deliveries()
    {
        var objects = await ObjectsAsync();
        var worker = Single(objects, "Deployment", "hermes-worker");
        var container = Container(worker);

        Assert.That(worker["spec"]!["replicas"], Is.Null, "KEDA owns the count");
        Assert.That(Single(objects, "ScaledObject", "hermes-worker")["spec"]!["minReplicaCount"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(Probe(container, "readinessProbe"), Is.EqualTo(("/health/ready", 8081)));
        Assert.That(Probe(container, "livenessProbe"), Is.EqualTo(("/health/live", 8081)), "never /health/n8n: n8n being down must not restart workers");
        Assert.That(worker["spec"]!["template"]!["spec"]!["terminationGracePeriodSeconds"]!.GetValue<int>(), Is.GreaterThanOrEqualTo(60));
        Assert.That(container["args"], Is.Null, "the image runs the dispatcher and nothing else");
        Assert.That(container["image"]!.GetValue<string>(), Does.Contain("/hermes-worker:"));
    }

    [Test]
    public async Task The_migrate_job_runs_the_cli_image_once_over_the_direct_connection()
    {
        var objects = await ObjectsAsync();
        var job = Single(objects, "Job", "hermes-migrate");
        var container = Container(job);

        Assert.That(container["args"]!.AsArray().Select(static a => a!.GetValue<string>()), Is.EqualTo(new[] { "migrate", "--roles" }));
        Assert.That(container["image"]!.GetValue<string>(), Is.EqualTo(Container(Single(objects, "CronJob", "hermes-cli"))["image"]!.GetValue<string>()));
        Assert.That(container["image"]!.GetValue<string>(), Does.Contain("/hermes-cli:"));
        Assert.That(job["spec"]!["template"]!["spec"]!["restartPolicy"]!.GetValue<string>(), Is.EqualTo("Never"));
        Assert.That(job["spec"]!["backoffLimit"]!.GetValue<int>(), Is.GreaterThan(0));
        var databaseUrl = container["env"]!.AsArray().Single(static e => e!["name"]!.GetValue<string>() == "DATABASE_URL")!;
        Assert.That(databaseUrl["valueFrom"]!["secretKeyRef"]!["key"]!.GetValue<string>(), Is.EqualTo("MIGRATE_DATABASE_URL"));
    }

    [Test]
    public async Task Each_workload_connects_with_its_own_login_and_only_the_migrate_job_uses_the_owner()
    {
        var objects = await ObjectsAsync();
        var template = Single(objects, "Secret", "hermes-secrets")["stringData"]!.AsObject();

        string LoginOf(string kind, string name, string variable)
        {
            var env = Container(Single(objects, kind, name))["env"]!.AsArray().SingleOrDefault(e => e!["name"]!.GetValue<string>() == variable)
                ?? throw new AssertionException($"{name} has no {variable}.");
            var key = env["valueFrom"]!["secretKeyRef"]!["key"]!.GetValue<string>();
            return new Uri(template[key]!.GetValue<string>()).UserInfo.Split(':')[0];
        }

        Assert.Multiple(() =>
        {
            Assert.That(LoginOf("Deployment", "hermes-api", "DATABASE_URL"), Is.EqualTo("hermes_api_login"));
            Assert.That(LoginOf("Deployment", "hermes-worker", "DATABASE_URL"), Is.EqualTo("hermes_worker_login"));
            Assert.That(LoginOf("Deployment", "hermes-worker", "DATABASE_DIRECT_URL"), Is.EqualTo("hermes_worker_login"));
            Assert.That(LoginOf("Deployment", "hermes-admin", "DATABASE_URL"), Is.EqualTo("hermes_admin_login"));
            Assert.That(LoginOf("Job", "hermes-migrate", "DATABASE_URL"), Is.EqualTo("hermes"));
            Assert.That(LoginOf("CronJob", "hermes-cli", "DATABASE_URL"), Is.EqualTo("hermes_admin_login"), "operator verbs run under the admin login");
            Assert.That(LoginOf("CronJob", "hermes-purge", "DATABASE_URL"), Is.EqualTo("hermes_admin_login"), "the nightly purge too");
            Assert.That(Container(Single(objects, "Deployment", "hermes-admin"))["image"]!.GetValue<string>(), Does.Contain("/hermes-admin:"));
        });
    }

    [Test]
    public async Task The_admin_endpoints_run_in_their_own_deployment_reachable_inside_the_cluster_only()
    {
        var objects = await ObjectsAsync();
        var admin = Single(objects, "Deployment", "hermes-admin");
        var container = Container(admin);
        bool HasAdminKey(JsonObject c) => c["env"]!.AsArray().Any(static e => e!["name"]!.GetValue<string>() == "HERMES_ADMIN_API_KEY");

        Assert.That(HasAdminKey(Container(Single(objects, "Deployment", "hermes-api"))), Is.False, "no admin routes on the public API");
        Assert.That(HasAdminKey(container), Is.True);
        Assert.That(container["image"]!.GetValue<string>(), Does.Contain("/hermes-admin:"), "a program and image of its own, with another login");
        Assert.That(Probe(container, "readinessProbe"), Is.EqualTo(("/health/ready", 9464)));
        Assert.That(Probe(container, "livenessProbe"), Is.EqualTo(("/health/live", 9464)));
        AssertListensOnTheManagementPort(container);
        var service = Single(objects, "Service", "hermes-admin");
        Assert.That(service["spec"]!["type"]!.GetValue<string>(), Is.EqualTo("ClusterIP"));
        Assert.That(service["spec"]!["ports"]!.AsArray().Select(p => ContainerPort(container, p!["targetPort"]!)), Is.EqualTo(new[] { 8080 }), "the admin host's own port only");
        Assert.That(objects.Where(static o => o["kind"]!.GetValue<string>() == "Ingress").SelectMany(static i => i["spec"]!["rules"]!.AsArray())
            .SelectMany(static r => r!["http"]!["paths"]!.AsArray()).Select(static p => p!["backend"]!["service"]!["name"]!.GetValue<string>()), Is.EqualTo(new[] { "hermes-api" }), "no Ingress reaches the admin host");
        var podLabels = admin["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        foreach (var (key, value) in service["spec"]!["selector"]!.AsObject())
        {
            Assert.That(podLabels[key]?.GetValue<string>(), Is.EqualTo(value!.GetValue<string>()), "the Service selects the admin pods");
        }

        var apiLabels = Single(objects, "Deployment", "hermes-api")["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        Assert.That(apiLabels["app.kubernetes.io/name"]!.GetValue<string>(), Is.Not.EqualTo(podLabels["app.kubernetes.io/name"]!.GetValue<string>()), "the public Service never selects the admin pods");
    }

    [Test]
    public async Task Every_container_has_memory_requests_and_limits_and_runs_locked_down_as_non_root()
    {
        var objects = await ObjectsAsync();

        foreach (var workload in objects.Where(static o => o["kind"]!.GetValue<string>() is "Deployment" or "Job" or "CronJob"))
        {
            var name = workload["metadata"]!["name"]!.GetValue<string>();
            var pod = Kubernetes.Kustomize.PodTemplate(workload)["spec"]!;
            var container = Container(workload);
            Assert.That(container["resources"]!["requests"]!["memory"], Is.Not.Null, name);
            Assert.That(container["resources"]!["requests"]!["cpu"], Is.Not.Null, name);
            Assert.That(container["resources"]!["limits"]!["memory"], Is.Not.Null, name);
            Assert.That(pod["securityContext"]!["runAsNonRoot"]!.GetValue<bool>(), Is.True, name);
            Assert.That(pod["securityContext"]!["seccompProfile"]!["type"]!.GetValue<string>(), Is.EqualTo("RuntimeDefault"), name);
            Assert.That(container["securityContext"]!["allowPrivilegeEscalation"]!.GetValue<bool>(), Is.False, name);
            Assert.That(container["securityContext"]!["capabilities"]!["drop"]!.AsArray().Select(static c => c!.GetValue<string>()), Does.Contain("ALL"), name);
            Assert.That(container["image"]!.GetValue<string>(), Does.Not.EndWith(":latest"), name);
        }
    }

    [Test]
    public async Task Each_disruption_budget_covers_its_deployments_pods()
    {
        var objects = await ObjectsAsync();

        foreach (var name in new[] { "hermes-api", "hermes-worker" })
        {
            var budget = Single(objects, "PodDisruptionBudget", name);
            var podLabels = Single(objects, "Deployment", name)["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
            foreach (var (key, value) in budget["spec"]!["selector"]!["matchLabels"]!.AsObject())
            {
                Assert.That(podLabels[key]?.GetValue<string>(), Is.EqualTo(value!.GetValue<string>()), name);
            }
        }
    }

    [Test]
    public async Task Every_secret_the_workloads_read_is_in_the_template_and_the_template_holds_only_placeholders()
    {
        var objects = await ObjectsAsync();
        var template = Single(objects, "Secret", "hermes-secrets")["stringData"]!.AsObject();

        var referenced = objects
            .Where(static o => o["kind"]!.GetValue<string>() is "Deployment" or "Job" or "CronJob")
            .SelectMany(static o => Container(o)["env"]?.AsArray() ?? [])
            .Select(static e => e!["valueFrom"]?["secretKeyRef"])
            .Where(static r => r is not null)
            .Select(static r => r!["key"]!.GetValue<string>())
            .Distinct()
            .ToList();
        Assert.That(referenced, Is.SubsetOf(template.Select(static p => p.Key)));

        foreach (var (key, value) in template)
        {
            var text = value!.GetValue<string>();
            Assert.That(text, Does.Contain("REPLACE_ME"), key);
            Assert.That(RandomLooking().IsMatch(text), Is.False, $"{key} looks like a real secret: {text}");
        }
    }

    [Test]
    public async Task The_config_map_points_the_workers_at_the_hermes_workflow_webhook()
    {
        var objects = await ObjectsAsync();
        var config = Single(objects, "ConfigMap", "hermes-config")["data"]!;

        Assert.That(config["N8N_WEBHOOK_URL"]!.GetValue<string>(), Does.EndWith("/webhook/hermes-lead"));
        Assert.That(config["ASPNETCORE_ENVIRONMENT"]!.GetValue<string>(), Is.EqualTo("Production"));
        Assert.That(config["OTEL_EXPORTER_OTLP_ENDPOINT"], Is.Not.Null);
    }

    [Test]
    public async Task The_canary_is_on_in_the_admin_host_towards_the_api_service_with_its_secret_from_the_secret()
    {
        var objects = await ObjectsAsync();
        var config = Single(objects, "ConfigMap", "hermes-config")["data"]!;
        Assert.That(TimeSpan.Parse(config["Canary__Interval"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(TimeSpan.FromMinutes(5)));

        // Canary__ApiUrl names the public API's Service, on the port that Service serves.
        var apiUrl = new Uri(config["Canary__ApiUrl"]!.GetValue<string>());
        var service = Single(objects, "Service", "hermes-api");
        Assert.That(apiUrl.Host, Is.EqualTo("hermes-api.hermes.svc.cluster.local").Or.EqualTo("hermes-api"));
        Assert.That(service["metadata"]!["namespace"]!.GetValue<string>(), Is.EqualTo("hermes"));
        var port = service["spec"]!["ports"]!.AsArray().Single(p => p!["port"]!.GetValue<int>() == apiUrl.Port);
        Assert.That(ContainerPort(Container(Single(objects, "Deployment", "hermes-api")), port!["targetPort"]!), Is.EqualTo(8080), "the public port, not the management one");

        // Both ends read the one secret from the Secret, never a literal; the template holds a placeholder for it.
        foreach (var name in new[] { "hermes-api", "hermes-admin" })
        {
            var env = Container(Single(objects, "Deployment", name))["env"]!.AsArray().Single(static e => e!["name"]!.GetValue<string>() == "HERMES_CANARY_SECRET")!;
            Assert.That(env["value"], Is.Null, name);
            Assert.That(env["valueFrom"]!["secretKeyRef"]!["name"]!.GetValue<string>(), Is.EqualTo("hermes-secrets"), name);
            Assert.That(env["valueFrom"]!["secretKeyRef"]!["key"]!.GetValue<string>(), Is.EqualTo("HERMES_CANARY_SECRET"), name);
        }

        Assert.That(Single(objects, "Secret", "hermes-secrets")["stringData"]!["HERMES_CANARY_SECRET"]!.GetValue<string>(), Is.EqualTo("REPLACE_ME"));
        Assert.That(Container(Single(objects, "Deployment", "hermes-worker"))["env"]!.AsArray().Any(static e => e!["name"]!.GetValue<string>() == "HERMES_CANARY_SECRET"),
            Is.False, "the workers need no canary secret");
    }

    [Test]
    public async Task The_rules_config_map_holds_alerts_yml_byte_for_byte()
    {
        var objects = await ObjectsAsync();
        var rules = File.ReadAllText(RepositoryFiles.PathOf("deploy", "monitoring", "prometheus", "alerts.yml"));
        var data = Single(objects, "ConfigMap", "hermes-prometheus-rules")["data"]!.AsObject();

        Assert.That(data.Select(static d => d.Key), Is.EqualTo(new[] { "hermes-alerts.yml" }));
        Assert.That(data["hermes-alerts.yml"]!.GetValue<string>() == rules, Is.True,
            "the ConfigMap's rules differ from deploy/monitoring/prometheus/alerts.yml: run deploy/k8s/generate-prometheus-rules.sh");
    }

    [Test]
    public async Task The_api_admin_and_worker_pods_ask_to_be_scraped_on_their_health_port_under_the_job_names_the_rules_use()
    {
        var objects = await ObjectsAsync();
        var jobs = new List<string>();
        foreach (var name in new[] { "hermes-api", "hermes-admin", "hermes-worker" })
        {
            var deployment = Single(objects, "Deployment", name);
            var annotations = deployment["spec"]!["template"]!["metadata"]!["annotations"]!.AsObject();
            var container = Container(deployment);
            Assert.That(annotations["prometheus.io/scrape"]!.GetValue<string>(), Is.EqualTo("true"), name);
            Assert.That(annotations["prometheus.io/path"]!.GetValue<string>(), Is.EqualTo("/metrics"), name);
            var port = int.Parse(annotations["prometheus.io/port"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(port, Is.EqualTo(Probe(container, "readinessProbe").Port), name + ": the health port, where /metrics is served");
            Assert.That(port, Is.EqualTo(name == "hermes-worker" ? 8081 : 9464), name + ": the API and the admin host serve /metrics on their management port only");
            Assert.That(container["ports"]!.AsArray().Select(static p => p!["containerPort"]!.GetValue<int>()), Does.Contain(port), name);
            jobs.Add(deployment["spec"]!["template"]!["metadata"]!["labels"]!["app.kubernetes.io/name"]!.GetValue<string>());
        }

        var rules = File.ReadAllText(RepositoryFiles.PathOf("deploy", "monitoring", "prometheus", "alerts.yml"));
        var selected = JobSelector().Matches(rules).Select(static m => m.Groups["job"].Value).Distinct().ToList();
        Assert.That(selected, Is.Not.Empty);
        Assert.That(jobs, Is.SupersetOf(selected), "kubernetes.yml turns the pod label app.kubernetes.io/name into the job label the rules select");
        Assert.That(Single(objects, "Job", "hermes-migrate")["spec"]!["template"]!["metadata"]?["annotations"]?["prometheus.io/scrape"], Is.Null, "the one-shot migration is not scraped");
    }

    [GeneratedRegex(@"job=""(?<job>[a-z-]+)""")]
    private static partial Regex JobSelector();

    // 24+ characters of hex or base64 in a row: a key, a token or a password, not a placeholder.
    [GeneratedRegex("[A-Za-z0-9+/=_-]{24,}")]
    private static partial Regex RandomLooking();
}
