using System.Net;
using System.Text.Json.Nodes;

namespace Hermes.Tests.Kubernetes;

/// <summary>
/// Who may reach whom, from the NetworkPolicies each overlay renders (evaluated by <see cref="NetworkPolicyModel"/>). The
/// pods are those the rendered workloads would run (their template's labels and named ports), those CloudNativePG makes
/// for the rendered Cluster and Pooler (its labels cnpg.io/cluster, cnpg.io/podRole, cnpg.io/poolerName and ports), and
/// the neighbours network-policies.yaml names, plus a stranger in another namespace and an address on the internet.
/// </summary>
public sealed class NetworkPolicyMatrixTests
{
    public static IEnumerable<string> Overlays => Kustomize.Overlays;

    private sealed record Cluster(NetworkPolicyModel Policies, IReadOnlyList<Endpoint> Endpoints)
    {
        public Endpoint this[string name] => Endpoints.SingleOrDefault(e => e.Name == name) ?? throw new AssertionException($"no endpoint {name}");

        public Endpoint[] Hermes => Endpoints.Where(static e => e.Namespace == "hermes").ToArray();

        /// <summary>The names of the endpoints among <paramref name="candidates"/> that may open a connection to <paramref name="to"/>.</summary>
        public IEnumerable<string> Reaching(string to, int port, IEnumerable<Endpoint>? candidates = null, string protocol = "TCP") =>
            (candidates ?? Endpoints).Where(e => Policies.Allows(e, this[to], port, protocol)).Select(static e => e.Name).Order(StringComparer.Ordinal);
    }

    private static async Task<Cluster> ClusterAsync(string overlay) => ClusterOf(await Kustomize.ObjectsAsync(overlay));

    private static Cluster ClusterOf(IReadOnlyList<JsonObject> objects)
    {
        var policies = objects.Where(static o => Kustomize.KindOf(o) == "NetworkPolicy").ToList();
        var endpoints = new List<Endpoint>();
        var next = 10;
        IPAddress PodAddress() => IPAddress.Parse($"10.244.0.{next++}");

        foreach (var workload in objects.Where(static o => Kustomize.KindOf(o) is "Deployment" or "Job" or "CronJob"))
        {
            var template = Kustomize.PodTemplate(workload);
            var labels = template["metadata"]!["labels"]!.AsObject().ToDictionary(static l => l.Key, static l => l.Value!.GetValue<string>());
            var ports = template["spec"]!["containers"]!.AsArray()
                .SelectMany(static c => c!["ports"]?.AsArray() ?? [])
                .Where(static p => p!["name"] is not null)
                .ToDictionary(static p => p!["name"]!.GetValue<string>(), static p => p!["containerPort"]!.GetValue<int>());
            endpoints.Add(new Endpoint(Kustomize.NameOf(workload), "hermes", labels, ports, PodAddress()));
        }

        // The pods CloudNativePG runs for the rendered Cluster and Pooler, labelled and with ports as the operator makes them.
        var cluster = Kustomize.NameOf(objects.Single(static o => Kustomize.KindOf(o) == "Cluster"));
        endpoints.Add(new Endpoint("db", "hermes",
            new Dictionary<string, string> { ["cnpg.io/cluster"] = cluster, ["cnpg.io/podRole"] = "instance", ["cnpg.io/instanceName"] = $"{cluster}-1" },
            new Dictionary<string, int> { ["postgresql"] = 5432, ["metrics"] = 9187, ["status"] = 8000 }, PodAddress()));
        var pooler = objects.Single(static o => Kustomize.KindOf(o) == "Pooler");
        Assert.That(pooler["spec"]!["cluster"]!["name"]!.GetValue<string>(), Is.EqualTo(cluster));
        endpoints.Add(new Endpoint("pooler", "hermes",
            new Dictionary<string, string> { ["cnpg.io/cluster"] = cluster, ["cnpg.io/poolerName"] = Kustomize.NameOf(pooler), ["cnpg.io/podRole"] = "pooler" },
            new Dictionary<string, int> { ["pgbouncer"] = 5432, ["metrics"] = 9127 }, PodAddress()));

        Endpoint Neighbour(string name, string ns, string labelKey, string labelValue, params (string Name, int Port)[] ports) =>
            new(name, ns, new Dictionary<string, string> { [labelKey] = labelValue }, ports.ToDictionary(static p => p.Name, static p => p.Port), IPAddress.Parse($"10.244.1.{next++}"));

        endpoints.Add(Neighbour("ingress-controller", "ingress-nginx", "app.kubernetes.io/name", "ingress-nginx"));
        endpoints.Add(Neighbour("prometheus", "monitoring", "app.kubernetes.io/name", "prometheus"));
        endpoints.Add(Neighbour("grafana", "monitoring", "app.kubernetes.io/name", "grafana"));
        endpoints.Add(Neighbour("n8n", "n8n", "app.kubernetes.io/name", "n8n", ("http", 5678)));
        endpoints.Add(Neighbour("keda-operator", "keda", "app.kubernetes.io/name", "keda-operator"));
        endpoints.Add(Neighbour("cnpg-operator", "cnpg-system", "app.kubernetes.io/name", "cloudnative-pg"));
        endpoints.Add(Neighbour("kube-dns", "kube-system", "k8s-app", "kube-dns", ("dns", 53)));
        endpoints.Add(Neighbour("otel-collector", "observability", "app.kubernetes.io/name", "otel-collector", ("otlp", 4317)));
        endpoints.Add(Neighbour("stranger", "default", "app", "stranger"));
        endpoints.Add(new Endpoint("internet", null, new Dictionary<string, string>(), new Dictionary<string, int>(), IPAddress.Parse("203.0.113.10")));

        return new Cluster(new NetworkPolicyModel(policies), endpoints);
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Every_pod_of_the_namespace_is_denied_by_default_in_both_directions(string overlay)
    {
        var policies = (await Kustomize.ObjectsAsync(overlay)).Where(static o => Kustomize.KindOf(o) == "NetworkPolicy").ToList();

        var denyAll = policies.SingleOrDefault(static p => Kustomize.NameOf(p) == "default-deny")
            ?? throw new AssertionException("no default-deny NetworkPolicy");
        Assert.That(denyAll["spec"]!["podSelector"]!.AsObject(), Is.Empty, "selects every pod");
        Assert.That(denyAll["spec"]!["policyTypes"]!.AsArray().Select(static t => t!.GetValue<string>()), Is.EquivalentTo(new[] { "Ingress", "Egress" }));
        Assert.That(denyAll["spec"]!["ingress"], Is.Null);
        Assert.That(denyAll["spec"]!["egress"], Is.Null);
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Public_ingress_reaches_the_api_public_port_and_nothing_else(string overlay)
    {
        var cluster = await ClusterAsync(overlay);

        Assert.That(cluster.Reaching("hermes-api", 8080), Is.EqualTo(new[] { "hermes-admin", "ingress-controller" }), "the ingress, and the admin host's canary");
        Assert.That(cluster.Reaching("hermes-api", 9464, cluster.Hermes), Is.Empty, "the canary reaches the public port only");
        foreach (var target in cluster.Hermes)
        {
            foreach (var (port, number) in target.Ports)
            {
                var expected = target.Name == "hermes-api" && port == "http";
                Assert.That(cluster.Policies.Allows(cluster["ingress-controller"], target, number), Is.EqualTo(expected), $"ingress controller -> {target}:{number}");
                Assert.That(cluster.Policies.Allows(cluster["internet"], target, number), Is.False, $"internet -> {target}:{number}");
                Assert.That(cluster.Policies.Allows(cluster["stranger"], target, number), Is.False, $"another namespace -> {target}:{number}");
            }
        }
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Only_the_admin_host_and_the_cli_reach_admin_things(string overlay)
    {
        var cluster = await ClusterAsync(overlay);

        // The admin host's own port: the operator CLI's pods only (operators themselves come by port-forward).
        Assert.That(cluster.Reaching("hermes-admin", 8080), Is.EqualTo(new[] { "hermes-cli" }));
        // The primary, where the admin login works: the programs with a login of their own, the Pooler, the other
        // instances, KEDA's query and the operator. Not the API, whose way in is the Pooler, nor anyone else.
        Assert.That(cluster.Reaching("db", 5432), Is.EquivalentTo(new[]
        {
            "cnpg-operator", "db", "hermes-admin", "hermes-cli", "hermes-migrate", "hermes-purge", "hermes-worker", "keda-operator", "pooler",
        }.Where(n => cluster.Endpoints.Any(e => e.Name == n))), "hermes-purge where the overlay has it");
        Assert.That(cluster.Reaching("db", 8000), Is.EqualTo(new[] { "cnpg-operator" }));
        Assert.That(cluster.Reaching("pooler", 5432), Is.EqualTo(new[] { "hermes-api" }), "the Pooler is the API's");
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Only_the_workers_reach_n8n(string overlay)
    {
        var cluster = await ClusterAsync(overlay);

        Assert.That(cluster.Reaching("n8n", 5678, cluster.Hermes), Is.EqualTo(new[] { "hermes-worker" }));
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Only_prometheus_scrapes_the_metrics_ports(string overlay)
    {
        var cluster = await ClusterAsync(overlay);

        foreach (var (target, port) in new[] { ("hermes-api", 9464), ("hermes-admin", 9464), ("hermes-worker", 8081), ("db", 9187), ("pooler", 9127) })
        {
            Assert.That(cluster.Reaching(target, port), Is.EqualTo(new[] { "prometheus" }), $"{target}:{port}");
        }

        Assert.That(cluster.Policies.Allows(cluster["prometheus"], cluster["hermes-api"], 8080), Is.False, "Prometheus scrapes, it does not submit leads");
        Assert.That(cluster.Policies.Allows(cluster["prometheus"], cluster["hermes-admin"], 8080), Is.False);
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Every_pod_resolves_names_and_exports_telemetry_and_only_the_database_pods_reach_the_internet(string overlay)
    {
        var cluster = await ClusterAsync(overlay);

        foreach (var pod in cluster.Hermes)
        {
            Assert.That(cluster.Policies.Allows(pod, cluster["kube-dns"], 53, "UDP"), Is.True, $"{pod} -> DNS over UDP");
            Assert.That(cluster.Policies.Allows(pod, cluster["kube-dns"], 53, "TCP"), Is.True, $"{pod} -> DNS over TCP");
        }

        Assert.That(cluster.Reaching("otel-collector", 4317, cluster.Hermes),
            Is.EqualTo(new[] { "hermes-admin", "hermes-api", "hermes-cli", "hermes-migrate", "hermes-purge", "hermes-worker" }.Intersect(cluster.Hermes.Select(static p => p.Name)).Order(StringComparer.Ordinal)));
        // The instance manager and the pooler's watch the Kubernetes API; the instances archive to the object store.
        Assert.That(cluster.Reaching("internet", 443, cluster.Hermes), Is.EqualTo(new[] { "db", "pooler" }));
        foreach (var port in new[] { 80, 5432, 5678, 8080 })
        {
            Assert.That(cluster.Reaching("internet", port, cluster.Hermes), Is.Empty, $"nothing in the namespace reaches the internet on {port}");
        }
    }

    [Test]
    public async Task A_policy_that_opens_too_much_is_seen()
    {
        // The admin host's policy widened by mistake: its CLI-only rule made to admit any pod of the namespace.
        var objects = await Kustomize.CopyAsync("production");
        var admin = Kustomize.Single(objects, "NetworkPolicy", "hermes-admin");
        admin["spec"]!["ingress"]![0]!["from"]![0]!["podSelector"] = new JsonObject();
        // And the workers' n8n rule lost its namespaceSelector: it then means pods named n8n in namespace hermes, of which there are none.
        var worker = Kustomize.Single(objects, "NetworkPolicy", "hermes-worker");
        worker["spec"]!["egress"]![0]!["to"]![0]!.AsObject().Remove("namespaceSelector");

        var cluster = ClusterOf(objects);

        // The migrate Job and the purge, whose egress allows the admin host, now get in; the API and the workers still do
        // not, because their own egress policies hold.
        Assert.That(cluster.Reaching("hermes-admin", 8080), Is.EqualTo(new[] { "hermes-cli", "hermes-migrate", "hermes-purge" }));
        Assert.That(cluster.Reaching("n8n", 5678, cluster.Hermes), Is.Empty);
    }

    [Test]
    public void The_model_follows_the_documented_rules_for_selectors_ports_and_ip_blocks()
    {
        JsonObject Policy(string json) => JsonNode.Parse(json)!.AsObject();
        var web = new Endpoint("web", "a", new Dictionary<string, string> { ["app"] = "web" }, new Dictionary<string, int> { ["http"] = 8080 }, IPAddress.Parse("10.0.0.1"));
        var client = new Endpoint("client", "a", new Dictionary<string, string> { ["app"] = "client" }, new Dictionary<string, int>(), IPAddress.Parse("10.0.0.2"));
        var elsewhere = new Endpoint("elsewhere", "b", new Dictionary<string, string> { ["app"] = "client" }, new Dictionary<string, int>(), IPAddress.Parse("10.0.0.3"));
        var outside = new Endpoint("outside", null, new Dictionary<string, string>(), new Dictionary<string, int>(), IPAddress.Parse("192.0.2.1"));

        var open = new NetworkPolicyModel([]);
        Assert.That(open.Allows(client, web, 9999), Is.True, "no policy: open");

        var model = new NetworkPolicyModel([Policy("""
            {"metadata": {"name": "p", "namespace": "a"}, "spec": {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}, {"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}}],
                          "ports": [{"port": "http"}]}]}}
            """)]);
        Assert.Multiple(() =>
        {
            Assert.That(model.Allows(client, web, 8080), Is.True, "a selected peer on the named port");
            Assert.That(model.Allows(client, web, 8081), Is.False, "another port");
            Assert.That(model.Allows(client, web, 8080, "UDP"), Is.False, "TCP by default");
            Assert.That(model.Allows(elsewhere, web, 8080), Is.False, "a podSelector alone means the policy's namespace");
            Assert.That(model.Allows(outside, web, 8080), Is.True, "inside the ipBlock");
            Assert.That(model.Allows(outside with { Address = IPAddress.Parse("192.0.2.200") }, web, 8080), Is.False, "in its except");
            Assert.That(model.Allows(web, client, 1), Is.True, "Ingress-only policy: the selected pod's egress stays open, and client is selected by none");
        });
    }
}
