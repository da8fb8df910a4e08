using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Persistence.Roles;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.Kubernetes;

/// <summary>
/// What each overlay deploys: the images named in one place, each program's connection (the API through the Pooler,
/// everything else to the primary directly), the CloudNativePG Cluster, its logins, backups and Pooler.
/// </summary>
public sealed partial class OverlayTests
{
    public static IEnumerable<string> Overlays => Kustomize.Overlays;

    private static readonly string[] Programs = ["hermes-api", "hermes-admin", "hermes-worker", "hermes-cli"];

    private static IEnumerable<JsonObject> Workloads(IEnumerable<JsonObject> objects) =>
        objects.Where(static o => Kustomize.KindOf(o) is "Deployment" or "Job" or "CronJob");

    private static JsonObject Container(JsonObject workload) => Kustomize.PodTemplate(workload)["spec"]!["containers"]![0]!.AsObject();

    private static string? SecretKey(JsonObject container, string variable) =>
        container["env"]!.AsArray().SingleOrDefault(e => e!["name"]!.GetValue<string>() == variable)?["valueFrom"]?["secretKeyRef"]?["key"]?.GetValue<string>();

    [TestCaseSource(nameof(Overlays))]
    public async Task The_images_registry_and_tag_come_from_the_overlays_images_and_nowhere_else(string overlay)
    {
        var kustomization = Kustomize.ReadYamlFile(RepositoryFiles.PathOf("deploy", "k8s", "overlays", overlay, "kustomization.yaml"))!;
        var images = kustomization["images"]!.AsArray().ToDictionary(static i => i!["name"]!.GetValue<string>(), static i => $"{i!["newName"]}:{i["newTag"]}");
        Assert.That(images.Keys, Is.EquivalentTo(Programs), "all four programs' images");
        Assert.That(images.Values, Has.All.Contain("/").And.All.Not.EndWith(":latest"));

        var rendered = Workloads(await Kustomize.ObjectsAsync(overlay)).ToDictionary(Kustomize.Describe, static w => Container(w)["image"]!.GetValue<string>());
        foreach (var (workload, image) in rendered)
        {
            Assert.That(images.Values, Does.Contain(image), $"{workload}'s image is one the overlay names");
        }

        Assert.That(rendered.Values.Distinct(), Is.EquivalentTo(images.Values), "and every image the overlay names is used");
        // The base names the programs only: no registry, no tag, so no second place to change for a release.
        foreach (var file in Directory.GetFiles(RepositoryFiles.PathOf("deploy", "k8s", "base"), "*.yaml"))
        {
            Assert.That(ImageLine().Matches(File.ReadAllText(file)).Select(static m => m.Groups["image"].Value), Has.All.Matches("^hermes-[a-z]+$"), file);
        }
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task The_api_goes_through_the_pooler_and_every_other_program_to_the_primary_directly(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);
        var cluster = Kustomize.NameOf(objects.Single(static o => Kustomize.KindOf(o) == "Cluster"));
        var pooler = objects.Single(static o => Kustomize.KindOf(o) == "Pooler");
        var urls = KubernetesManifests.SecretTemplates().Single(static s => Kustomize.NameOf(s) == "hermes-secrets")["stringData"]!.AsObject();
        string HostOf(string kind, string name, string variable)
        {
            var key = SecretKey(Container(Kustomize.Single(objects, kind, name)), variable) ?? throw new AssertionException($"{name} has no {variable}");
            return new Uri(urls[key]!.GetValue<string>()).Host;
        }

        Assert.That(pooler["spec"]!["cluster"]!["name"]!.GetValue<string>(), Is.EqualTo(cluster));
        Assert.That(pooler["spec"]!["type"]!.GetValue<string>(), Is.EqualTo("rw"));
        Assert.That(pooler["spec"]!["pgbouncer"]!["poolMode"]!.GetValue<string>(), Is.EqualTo("transaction"));
        Assert.That(HostOf("Deployment", "hermes-api", "DATABASE_URL"), Is.EqualTo(Kustomize.NameOf(pooler)), "the API through the Pooler's Service");
        Assert.That(urls[SecretKey(Container(Kustomize.Single(objects, "Deployment", "hermes-api")), "DATABASE_URL")!]!.GetValue<string>(), Does.Contain("pgbouncer=true"),
            "Npgsql is told the pooler runs in transaction mode");
        foreach (var (kind, name, variable) in new[]
        {
            ("Deployment", "hermes-worker", "DATABASE_URL"), ("Deployment", "hermes-worker", "DATABASE_DIRECT_URL"), ("Deployment", "hermes-admin", "DATABASE_URL"),
            ("CronJob", "hermes-cli", "DATABASE_URL"), ("Job", "hermes-migrate", "DATABASE_URL"),
        })
        {
            Assert.That(HostOf(kind, name, variable), Is.EqualTo($"{cluster}-rw"), $"{name} {variable}: the primary directly (LISTEN, DDL and operators need a session)");
        }
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task The_cli_and_the_purge_run_the_cli_image_under_the_admin_login_never_the_workers(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);

        foreach (var job in objects.Where(static o => Kustomize.KindOf(o) == "CronJob"))
        {
            var container = Container(job);
            Assert.That(container["image"]!.GetValue<string>(), Does.Contain("/hermes-cli:"), Kustomize.NameOf(job));
            Assert.That(SecretKey(container, "DATABASE_URL"), Is.EqualTo("ADMIN_DATABASE_URL"), Kustomize.NameOf(job));
            Assert.That(container["env"]!.AsArray().Select(static e => e!["valueFrom"]?["secretKeyRef"]?["key"]?.GetValue<string>() ?? ""), Has.None.Contains("WORKER"), Kustomize.NameOf(job));
        }

        var purge = objects.SingleOrDefault(static o => Kustomize.KindOf(o) == "CronJob" && Kustomize.NameOf(o) == "hermes-purge");
        var config = Kustomize.Single(objects, "ConfigMap", "hermes-config")["data"]!;
        Assert.That(purge is not null, Is.EqualTo(config["Retention__Enabled"]?.GetValue<string>() == "false"),
            "the purge CronJob exactly where the workers' own retention loop is off: one purge, not two");
        if (purge is not null)
        {
            Assert.That(Container(purge)["args"]!.AsArray().Select(static a => a!.GetValue<string>()), Is.EqualTo(new[] { "purge", "--yes" }));
        }
    }

    [Test]
    public async Task Production_runs_three_instances_with_synchronous_quorum_replication_and_dev_one()
    {
        var production = Kustomize.Single(await Kustomize.ObjectsAsync("production"), "Cluster", "hermes-db")["spec"]!;
        Assert.That(production["instances"]!.GetValue<int>(), Is.EqualTo(3));
        Assert.That(production["postgresql"]!["synchronous"]!["method"]!.GetValue<string>(), Is.EqualTo("any"), "quorum: ANY n of the standbys");
        Assert.That(production["postgresql"]!["synchronous"]!["number"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(production["postgresql"]!["synchronous"]!["dataDurability"]!.GetValue<string>(), Is.EqualTo("required"));

        var dev = Kustomize.Single(await Kustomize.ObjectsAsync("dev"), "Cluster", "hermes-db")["spec"]!;
        Assert.That(dev["instances"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(dev["postgresql"]!["synchronous"], Is.Null, "no standby to wait for");
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task The_clusters_managed_roles_are_the_logins_and_groups_of_roles_sql(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);
        var cluster = Kustomize.Single(objects, "Cluster", "hermes-db")["spec"]!;
        var roles = cluster["managed"]!["roles"]!.AsArray().ToDictionary(static r => r!["name"]!.GetValue<string>(), static r => r!.AsObject());

        // roles.sql's header names each login and its group (CREATE ROLE hermes_api_login LOGIN PASSWORD '...' IN ROLE hermes_api).
        var documented = DocumentedLogin().Matches(RepositoryFiles.Read("deploy", "postgres", "roles.sql")).ToDictionary(static m => m.Groups["login"].Value, static m => m.Groups["group"].Value);
        Assert.That(documented.Values, Is.EquivalentTo(new[] { DatabaseRoles.Api, DatabaseRoles.Worker, DatabaseRoles.Admin }));
        Assert.That(roles.Keys, Is.EquivalentTo(documented.Keys.Concat(documented.Values)));
        foreach (var (login, group) in documented)
        {
            Assert.That(roles[group]["login"]!.GetValue<bool>(), Is.False, group);
            Assert.That(roles[login]["login"]!.GetValue<bool>(), Is.True, login);
            Assert.That(roles[login]["inRoles"]!.AsArray().Select(static r => r!.GetValue<string>()), Is.EqualTo(new[] { group }), login);
            Assert.That(roles[login]["superuser"]?.GetValue<bool>() ?? false, Is.False, login);
            var secret = KubernetesManifests.SecretTemplates().Single(s => Kustomize.NameOf(s) == roles[login]["passwordSecret"]!["name"]!.GetValue<string>());
            Assert.That(secret["type"]!.GetValue<string>(), Is.EqualTo("kubernetes.io/basic-auth"), login);
            Assert.That(secret["stringData"]!["username"]!.GetValue<string>(), Is.EqualTo(login));
            Assert.That(secret["stringData"]!["password"]!.GetValue<string>(), Is.EqualTo("REPLACE_ME"), "a placeholder");
        }

        // The owner, whom only the migrate Job connects as, is the bootstrap owner of the database.
        var urls = KubernetesManifests.SecretTemplates().Single(static s => Kustomize.NameOf(s) == "hermes-secrets")["stringData"]!;
        var migrate = new Uri(urls["MIGRATE_DATABASE_URL"]!.GetValue<string>());
        Assert.That(cluster["bootstrap"]!["initdb"]!["owner"]!.GetValue<string>(), Is.EqualTo(migrate.UserInfo.Split(':')[0]));
        Assert.That(cluster["bootstrap"]!["initdb"]!["database"]!.GetValue<string>(), Is.EqualTo(migrate.AbsolutePath.Trim('/')));
        Assert.That(Container(Kustomize.Single(objects, "Job", "hermes-migrate"))["args"]!.AsArray().Select(static a => a!.GetValue<string>()), Does.Contain("--roles"),
            "roles.sql's grants are applied by the migrate Job");
    }

    [TestCaseSource(nameof(Overlays))]
    public async Task Backups_go_nightly_to_the_object_store_the_cluster_archives_wal_to(string overlay)
    {
        var objects = await Kustomize.ObjectsAsync(overlay);
        var cluster = Kustomize.Single(objects, "Cluster", "hermes-db");
        var plugin = cluster["spec"]!["plugins"]!.AsArray().Single()!;
        var store = Kustomize.Single(objects, "ObjectStore", plugin["parameters"]!["barmanObjectName"]!.GetValue<string>());
        var backup = objects.Single(static o => Kustomize.KindOf(o) == "ScheduledBackup");

        Assert.That(plugin["isWALArchiver"]!.GetValue<bool>(), Is.True);
        Assert.That(backup["spec"]!["cluster"]!["name"]!.GetValue<string>(), Is.EqualTo(Kustomize.NameOf(cluster)));
        Assert.That(backup["spec"]!["method"]!.GetValue<string>(), Is.EqualTo("plugin"));
        Assert.That(backup["spec"]!["pluginConfiguration"]!["name"]!.GetValue<string>(), Is.EqualTo(plugin["name"]!.GetValue<string>()));
        Assert.That(store["spec"]!["configuration"]!["destinationPath"]!.GetValue<string>(), Does.StartWith("s3://").And.Contain("REPLACE_ME"), "a placeholder to describe");
        var keys = store["spec"]!["configuration"]!["s3Credentials"]!;
        var secret = KubernetesManifests.SecretTemplates().Single(s => Kustomize.NameOf(s) == keys["accessKeyId"]!["name"]!.GetValue<string>());
        Assert.That(secret["stringData"]!.AsObject().Select(static p => p.Key),
            Is.EquivalentTo(new[] { keys["accessKeyId"]!["key"]!.GetValue<string>(), keys["secretAccessKey"]!["key"]!.GetValue<string>() }));
    }

    [GeneratedRegex(@"^\s*image:\s*(?<image>\S+)", RegexOptions.Multiline)]
    private static partial Regex ImageLine();

    [GeneratedRegex(@"CREATE ROLE (?<login>\w+)\s+LOGIN PASSWORD '\.\.\.'\s+IN ROLE (?<group>\w+);")]
    private static partial Regex DocumentedLogin();
}
