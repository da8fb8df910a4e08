using System.Text.Json.Nodes;

namespace Hermes.Tests.Kubernetes;

/// <summary>
/// Every overlay renders, and every object it renders validates against the published schema of its kind
/// (Schemas/README.md): the Kubernetes OpenAPI for built-in kinds, the CRDs' own schemas for KEDA, CloudNativePG and
/// the Prometheus Operator. Mutations of rendered objects prove the validation fails where a real API server would.
/// </summary>
public sealed class ManifestSchemaTests
{
    public static IEnumerable<string> Overlays => Kustomize.Overlays;

    [Test]
    public void There_are_the_dev_and_production_overlays() =>
        Assert.That(Kustomize.Overlays, Is.EquivalentTo(new[] { "dev", "production" }));

    [TestCaseSource(nameof(Overlays))]
    public async Task Every_rendered_object_validates_against_the_published_schema_of_its_kind(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);

        var problems = objects.SelectMany(static o => PublishedSchemas.Validate(o).Select(p => $"{Kustomize.Describe(o)}: {p}")).ToList();

        Assert.That(problems, Is.Empty, string.Join('\n', problems));
        Assert.That(objects.Select(static o => $"{o["apiVersion"]}/{o["kind"]}").Distinct(), Is.SupersetOf(new[]
        {
            "apps/v1/Deployment", "batch/v1/Job", "batch/v1/CronJob", "autoscaling/v2/HorizontalPodAutoscaler",
            "networking.k8s.io/v1/NetworkPolicy", "keda.sh/v1alpha1/ScaledObject", "postgresql.cnpg.io/v1/Cluster",
            "postgresql.cnpg.io/v1/Pooler", "postgresql.cnpg.io/v1/ScheduledBackup", "monitoring.coreos.com/v1/PodMonitor",
            "monitoring.coreos.com/v1/PrometheusRule",
        }), "the kinds this test is about were all rendered, and so validated");
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Every_rendered_object_names_a_name_and_the_hermes_namespace(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);

        Assert.That(objects.Select(Kustomize.NameOf), Has.All.Not.Empty);
        Assert.That(objects.Where(static o => Kustomize.KindOf(o) != "Namespace").Select(static o => o["metadata"]!["namespace"]?.GetValue<string>()), Has.All.EqualTo("hermes"));
        Assert.That(objects.Select(Kustomize.Describe), Is.Unique);
    }

    // Each case: an object of the production overlay, a change a person could make by mistake, and the field the
    // validation must name. Built-in kinds and every CRD family are covered.
    private static readonly (string Kind, string Name, string Path, Action<JsonObject> Mistake, string Expected)[] Mistakes =
    [
        ("Deployment", "hermes-worker", "misspelt container field", o => Rename(Container(o), "imagePullPolicy", "imagePulPolicy"), "imagePulPolicy"),
        ("Deployment", "hermes-api", "misspelt pod field", o => Rename(o["spec"]!["template"]!["spec"]!.AsObject(), "terminationGracePeriodSeconds", "terminationGracePeriodSecond"), "terminationGracePeriodSecond"),
        ("Deployment", "hermes-api", "misspelt metadata field", o => Rename(o["metadata"]!.AsObject(), "labels", "lables"), "lables"),
        ("Deployment", "hermes-api", "a string where a number goes", o => o["spec"]!["revisionHistoryLimit"] = "five", "revisionHistoryLimit"),
        ("CronJob", "hermes-cli", "misspelt CronJob field", o => Rename(o["spec"]!.AsObject(), "concurrencyPolicy", "concurrencyPolicies"), "concurrencyPolicies"),
        ("HorizontalPodAutoscaler", "hermes-api", "misspelt HPA field", o => Rename(o["spec"]!.AsObject(), "maxReplicas", "maxReplica"), "maxReplica"),
        ("NetworkPolicy", "hermes-worker", "misspelt NetworkPolicy field", o => Rename(o["spec"]!.AsObject(), "podSelector", "podSelecter"), "podSelecter"),
        ("ScaledObject", "hermes-worker", "misspelt KEDA field", o => Rename(o["spec"]!.AsObject(), "minReplicaCount", "minReplicasCount"), "minReplicasCount"),
        ("TriggerAuthentication", "hermes-worker-db", "misspelt KEDA field", o => Rename(o["spec"]!["secretTargetRef"]![0]!.AsObject(), "parameter", "param"), "param"),
        ("Cluster", "hermes-db", "misspelt CloudNativePG field", o => Rename(o["spec"]!["postgresql"]!["synchronous"]!.AsObject(), "dataDurability", "durability"), "durability"),
        ("Cluster", "hermes-db", "a CloudNativePG value outside its enum", o => o["spec"]!["postgresql"]!["synchronous"]!["method"] = "quorum", "method"),
        ("Cluster", "hermes-db", "misspelt CRD metadata", o => Rename(o["metadata"]!.AsObject(), "labels", "label"), "label"),
        ("Pooler", "hermes-db-pooler-rw", "misspelt Pooler field", o => Rename(o["spec"]!["pgbouncer"]!.AsObject(), "poolMode", "pool_mode"), "pool_mode"),
        ("ScheduledBackup", "hermes-db-nightly", "misspelt ScheduledBackup field", o => Rename(o["spec"]!.AsObject(), "backupOwnerReference", "backupOwnerRef"), "backupOwnerRef"),
        ("ObjectStore", "hermes-backups", "misspelt ObjectStore field", o => Rename(o["spec"]!["configuration"]!.AsObject(), "destinationPath", "destinationpath"), "destinationpath"),
        ("PodMonitor", "hermes", "misspelt PodMonitor field", o => Rename(o["spec"]!["podMetricsEndpoints"]![0]!.AsObject(), "port", "ports"), "ports"),
        ("PrometheusRule", "hermes", "misspelt PrometheusRule field", o => Rename(o["spec"]!["groups"]![1]!["rules"]![0]!.AsObject(), "expr", "expression"), "expression"),
    ];

    public static IEnumerable<TestCaseData> MistakeCases =>
        Mistakes.Select(static (m, i) => new TestCaseData(i).SetArgDisplayNames($"{m.Kind} {m.Name}: {m.Path}"));

    [TestCaseSource(nameof(MistakeCases))]
    public async Task A_mistake_in_a_rendered_object_fails_validation_and_is_named(int index)
    {
        var (kind, name, _, mistake, expected) = Mistakes[index];
        var original = Kustomize.Single(await Kustomize.ObjectsAsync("production"), kind, name);
        Assert.That(PublishedSchemas.Validate(original), Is.Empty, "valid as rendered");

        var changed = original.DeepClone().AsObject();
        mistake(changed);

        var problems = PublishedSchemas.Validate(changed);
        Assert.That(problems, Is.Not.Empty, $"{kind}/{name} with the mistake still validates");
        Assert.That(string.Join('\n', problems), Does.Contain(expected), "the problem names the field");
    }

    [Test]
    public void A_kind_without_a_published_schema_is_not_waved_through()
    {
        var unknown = new JsonObject { ["apiVersion"] = "example.com/v1", ["kind"] = "Widget", ["metadata"] = new JsonObject { ["name"] = "w" } };

        Assert.That(PublishedSchemas.Validate(unknown), Is.EqualTo(new[] { "no published schema for example.com/v1/Widget" }));
    }

    private static JsonObject Container(JsonObject workload) => Kustomize.PodTemplate(workload)["spec"]!["containers"]![0]!.AsObject();

    private static void Rename(JsonObject o, string from, string to)
    {
        Assert.That(o.ContainsKey(from), Is.True, $"the rendered object has {from}");
        var value = o[from];
        o.Remove(from);
        o[to] = value;
    }
}
