using System.Text.Json.Nodes;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Deploy;

/// <summary>
/// docker-compose.yml, .env.example, deploy/generate-env.sh and the Dockerfiles. No Docker engine runs
/// here: the compose file is checked with `docker-compose config` (which validates it against the Compose
/// schema and resolves every variable) and the resolved services are asserted on.
/// </summary>
public sealed class ComposeFileTests
{
    private const string InstallAdvice =
        "docker-compose is not installed, so the compose file was not validated. Install it with " +
        "`apt-get install -y docker-compose` (Debian package docker-compose, v1).";

    private static string DockerCompose => ExternalTool.Find("docker-compose") ?? throw new IgnoreException(InstallAdvice);

    /// <summary>`docker-compose config` of the repository's file with <paramref name="envFile"/>, as JSON.</summary>
    private static async Task<(ToolResult Result, JsonObject? Config)> ConfigAsync(string envFile)
    {
        var compose = DockerCompose;
        var result = await ExternalTool.RunAsync(compose, ["-f", RepositoryFiles.PathOf("docker-compose.yml"), "--env-file", envFile, "config"]);
        if (result.ExitCode != 0)
        {
            return (result, null);
        }

        return (result, YamlJson.Parse(result.StandardOutput));
    }

    // One `docker-compose config` run (about a second) serves every test that reads the example's services.
    private static readonly Lazy<Task<JsonObject>> ExampleServices = new(LoadExampleServicesAsync);

    private static async Task<JsonObject> ExampleServicesAsync() => JsonNode.Parse((await ExampleServices.Value).ToJsonString())!.AsObject();

    private static async Task<JsonObject> LoadExampleServicesAsync()
    {
        var (result, config) = await ConfigAsync(RepositoryFiles.PathOf(".env.example"));
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.StandardError, Does.Not.Contain("is not set"), "every variable the compose file uses is in .env.example");
        return config!["services"]!.AsObject();
    }

    private static string Env(JsonObject services, string service, string key) =>
        services[service]!["environment"]![key]?.GetValue<string>() ?? throw new AssertionException($"{service} has no {key}.");

    private static IEnumerable<string> DependsOn(JsonObject services, string service, string condition) =>
        services[service]!["depends_on"]!.AsObject().Where(p => p.Value!["condition"]!.GetValue<string>() == condition).Select(static p => p.Key);

    [Test]
    public async Task The_compose_file_validates_with_the_example_env_and_has_every_service()
    {
        var services = await ExampleServicesAsync();

        Assert.That(services.Select(static s => s.Key), Is.EquivalentTo(new[]
        {
            "postgres", "migrate", "api", "admin", "worker", "n8n", "n8n-runners", "otel-collector", "jaeger",
            "prometheus", "alertmanager", "grafana", "backup", "cli",
        }));
    }

    [Test]
    public async Task Prometheus_Alertmanager_and_Grafana_run_the_shipped_monitoring_files_on_the_hosts_loopback_with_secrets_from_env()
    {
        var services = await ExampleServicesAsync();
        var example = ReadEnv(RepositoryFiles.PathOf(".env.example"));
        static List<string> Mounts(JsonNode service) => [.. service["volumes"]!.AsArray().Select(static v => v!.GetValue<string>())];
        static string HostIp(JsonNode port) => port is JsonObject published ? published["host_ip"]!.GetValue<string>() : port.GetValue<string>().Split(':')[0];

        var prometheus = services["prometheus"]!;
        Assert.That(prometheus["image"]!.GetValue<string>(), Does.StartWith("prom/prometheus:v"));
        Assert.That(Mounts(prometheus), Does.Contain(RepositoryFiles.PathOf("deploy", "monitoring", "prometheus", "prometheus.yml") + ":/etc/prometheus/prometheus.yml:ro")
            .And.Contain(RepositoryFiles.PathOf("deploy", "monitoring", "prometheus", "alerts.yml") + ":/etc/prometheus/alerts.yml:ro"), "the rule file next to the config, as its rule_files names it");
        Assert.That(Mounts(prometheus), Does.Contain("prometheus-data:/prometheus:rw"));
        Assert.That(prometheus["command"]!.AsArray().Select(static c => c!.GetValue<string>()), Does.Contain("--config.file=/etc/prometheus/prometheus.yml"));
        Assert.That(RepositoryFiles.Read("deploy", "monitoring", "prometheus", "prometheus.yml"), Does.Contain("- alerts.yml"));

        // Every job of prometheus.yml names a compose service and the port that service's host listens on.
        var config = RepositoryFiles.Read("deploy", "monitoring", "prometheus", "prometheus.yml");
        // The API and the admin host on their management port (metrics are served nowhere else), the workers on their health port.
        Assert.That(config, Does.Contain("\"api:9464\"").And.Contain("\"admin:9464\"").And.Contain("names: [\"worker\"]").And.Contain("port: 8081").And.Contain("\"alertmanager:9093\""));
        Assert.That(config, Does.Not.Contain("api:8080").And.Not.Contain("admin:8080"));
        foreach (var host in new[] { "api", "admin" })
        {
            Assert.That(Env(services, host, "ASPNETCORE_URLS"), Is.EqualTo("http://+:8080;http://+:9464"), host);
            Assert.That(Env(services, host, "Management__Port"), Is.EqualTo("9464"), host);
        }
        Assert.That(Env(services, "worker", "ASPNETCORE_URLS"), Is.EqualTo("http://+:8081"));

        var alertmanager = services["alertmanager"]!;
        Assert.That(alertmanager["image"]!.GetValue<string>(), Does.StartWith("prom/alertmanager:v"));
        Assert.That(Mounts(alertmanager), Does.Contain(RepositoryFiles.PathOf("deploy", "monitoring", "alertmanager", "entrypoint.sh") + ":/hermes/entrypoint.sh:ro")
            .And.Contain(RepositoryFiles.PathOf("deploy", "monitoring", "alertmanager", "render-config.sh") + ":/hermes/render-config.sh:ro"));
        Assert.That(alertmanager["tmpfs"]!.AsArray().Select(static t => t!.GetValue<string>()), Is.EquivalentTo(new[] { "/etc/alertmanager/secrets", "/etc/alertmanager/rendered" }), "secrets and the configuration naming them in memory only");
        var entrypoint = RepositoryFiles.Read("deploy", "monitoring", "alertmanager", "entrypoint.sh");
        Assert.That(entrypoint, Does.Contain("/hermes/render-config.sh /etc/alertmanager/rendered/alertmanager.yml").And.Contain("--config.file=/etc/alertmanager/rendered/alertmanager.yml"));
        var render = RepositoryFiles.Read("deploy", "monitoring", "alertmanager", "render-config.sh");
        var secretFiles = System.Text.RegularExpressions.Regex.Matches(RepositoryFiles.Read("deploy", "monitoring", "alertmanager", "alertmanager.yml"), @"_file: /etc/alertmanager/secrets/(?<name>[a-z-]+)")
            .Select(static m => m.Groups["name"].Value).ToList();
        Assert.That(secretFiles, Has.Count.EqualTo(3));
        foreach (var name in secretFiles)
        {
            var line = render.Split('\n').SingleOrDefault(l => l.Contains($"$(secret {name} ", StringComparison.Ordinal))
                ?? throw new AssertionException($"render-config.sh does not write {name}, which alertmanager.yml reads");
            var variable = line.Split(' ')[2];
            Assert.That(Env(services, "alertmanager", variable), Is.EqualTo(example[variable]), $"{name} from {variable} in .env");
            Assert.That(example[variable], Is.Empty, variable + " is optional: empty in the example, its receiver off");
        }

        var grafana = services["grafana"]!;
        Assert.That(grafana["image"]!.GetValue<string>(), Does.StartWith("grafana/grafana:"));
        Assert.That(Env(services, "grafana", "GF_SECURITY_ADMIN_PASSWORD"), Is.EqualTo(example["GRAFANA_ADMIN_PASSWORD"]));
        Assert.That(grafana["entrypoint"]!.AsArray().Select(static e => e!.GetValue<string>()), Is.EqualTo(new[] { "/bin/sh", "-c", "/bin/sh /hermes/check-admin-password.sh && exec /run.sh" }),
            "the password is checked, then the image's own entrypoint runs");
        Assert.That(Mounts(grafana), Does.Contain(RepositoryFiles.PathOf("deploy", "monitoring", "grafana", "check-admin-password.sh") + ":/hermes/check-admin-password.sh:ro"));
        Assert.That(Env(services, "grafana", "GF_AUTH_ANONYMOUS_ENABLED"), Is.EqualTo("false"));
        Assert.That(Env(services, "grafana", "GF_USERS_ALLOW_SIGN_UP"), Is.EqualTo("false"));
        Assert.That(Mounts(grafana), Does.Contain(RepositoryFiles.PathOf("deploy", "monitoring", "grafana", "provisioning") + ":/etc/grafana/provisioning:ro")
            .And.Contain(RepositoryFiles.PathOf("deploy", "monitoring", "grafana", "dashboards") + ":/etc/grafana/dashboards:ro"));
        Assert.That(RepositoryFiles.Read("deploy", "monitoring", "grafana", "provisioning", "dashboards", "hermes.yml"), Does.Contain("path: /etc/grafana/dashboards"), "the provider reads the mounted dashboards");
        Assert.That(File.Exists(RepositoryFiles.PathOf("deploy", "monitoring", "grafana", "dashboards", Path.GetFileName(Env(services, "grafana", "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")))), Is.True, "the home dashboard is the shipped one");
        Assert.That(DependsOn(services, "grafana", "service_started"), Does.Contain("prometheus"));

        foreach (var name in new[] { "prometheus", "alertmanager", "grafana" })
        {
            var ports = services[name]!["ports"]!.AsArray();
            Assert.That(ports, Has.Count.EqualTo(1), name);
            Assert.That(HostIp(ports[0]!), Is.EqualTo("127.0.0.1"), name + " on the host's loopback only");
            Assert.That(services[name]!["healthcheck"]!["test"]!.ToJsonString(), Does.Contain("http://127.0.0.1:"), name);
        }
    }

    [Test]
    public async Task PostgreSQL_is_pinned_healthchecked_persistent_and_configured_from_deploy_postgres()
    {
        var services = await ExampleServicesAsync();
        var postgres = services["postgres"]!;

        Assert.That(postgres["image"]!.GetValue<string>(), Is.EqualTo("postgres:15"));
        Assert.That(postgres["healthcheck"]!["test"]!.ToJsonString(), Does.Contain("pg_isready"));
        Assert.That(postgres["command"]!.AsArray().Select(static c => c!.GetValue<string>()), Does.Contain("config_file=/etc/postgresql/postgresql.conf"));
        var volumes = postgres["volumes"]!.AsArray().Select(static v => v!.GetValue<string>()).ToList();
        Assert.That(volumes, Does.Contain("postgres-data:/var/lib/postgresql/data:rw"));
        Assert.That(volumes, Does.Contain(RepositoryFiles.PathOf("deploy", "postgres", "postgresql.conf") + ":/etc/postgresql/postgresql.conf:ro"));
    }

    [Test]
    public async Task The_api_and_the_workers_start_only_after_the_one_shot_migration()
    {
        var services = await ExampleServicesAsync();

        Assert.That(services["migrate"]!["command"]!.AsArray().Select(static c => c!.GetValue<string>()), Is.EqualTo(new[] { "migrate", "--roles" }));
        Assert.That(services["migrate"]!["image"]!.GetValue<string>(), Is.EqualTo(services["cli"]!["image"]!.GetValue<string>()), "migrate runs the hermes command's image");
        Assert.That(services["migrate"]!["build"]!["dockerfile"]!.GetValue<string>(), Is.EqualTo("deploy/Dockerfile.cli"));
        Assert.That(services["migrate"]!["restart"]!.GetValue<string>(), Is.EqualTo("no"));
        Assert.That(DependsOn(services, "migrate", "service_healthy"), Does.Contain("postgres"));
        foreach (var service in new[] { "api", "admin", "worker" })
        {
            Assert.That(DependsOn(services, service, "service_completed_successfully"), Does.Contain("migrate"), service);
        }
    }

    [Test]
    public async Task Two_workers_run_without_host_ports()
    {
        var services = await ExampleServicesAsync();

        Assert.That(services["worker"]!["deploy"]!["replicas"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(services["worker"]!.AsObject().ContainsKey("ports"), Is.False, "replicas would fight over a host port");
        Assert.That(Env(services, "worker", "ASPNETCORE_URLS"), Is.EqualTo("http://+:8081"));
    }

    /// <summary>
    /// Who can open a connection to whom: Docker lets every member of a network reach every other member, so the
    /// services a service shares a network with are exactly those it can reach (and that can reach it).
    /// </summary>
    [TestCase("api", new[] { "postgres", "otel-collector", "prometheus", "admin" })]
    [TestCase("n8n", new[] { "worker", "n8n-runners" })]
    [TestCase("n8n-runners", new[] { "n8n", "worker" })]
    [TestCase("alertmanager", new[] { "prometheus", "grafana" })]
    [TestCase("grafana", new[] { "prometheus", "alertmanager" })]
    [TestCase("jaeger", new[] { "otel-collector" })]
    [TestCase("admin", new[] { "postgres", "migrate", "worker", "backup", "cli", "otel-collector", "prometheus", "api" })]
    [TestCase("worker", new[] { "postgres", "migrate", "admin", "backup", "cli", "n8n", "n8n-runners", "otel-collector", "prometheus" })]
    [TestCase("postgres", new[] { "api", "migrate", "admin", "worker", "backup", "cli" })]
    public async Task Each_service_shares_a_network_only_with_what_it_talks_to(string service, string[] reachable)
    {
        var services = await ExampleServicesAsync();
        static HashSet<string> Networks(JsonNode node) => node["networks"] switch
        {
            JsonObject map => [.. map.Select(static n => n.Key)],
            JsonArray list => [.. list.Select(static n => n!.GetValue<string>())],
            _ => ["default"],
        };

        var mine = Networks(services[service]!);
        var neighbours = services.Where(s => s.Key != service && Networks(s.Value!).Overlaps(mine)).Select(static s => s.Key);

        Assert.That(neighbours, Is.EquivalentTo(reachable), $"{service} is on {string.Join(", ", mine)}");
    }

    [Test]
    public async Task The_canary_is_on_in_the_admin_host_and_shares_its_secret_with_the_api_from_env()
    {
        var services = await ExampleServicesAsync();
        Assert.That(TimeSpan.Parse(Env(services, "admin", "Canary__Interval"), System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(TimeSpan.FromMinutes(5)));
        var apiUrl = new Uri(Env(services, "admin", "Canary__ApiUrl"));
        Assert.That(apiUrl.Host, Is.EqualTo("api"), "the compose service, over the canary network");
        Assert.That(Env(services, "api", "ASPNETCORE_URLS"), Does.Contain($":{apiUrl.Port}"), "the API's public port");
        Assert.That(services["api"]!["environment"]!.AsObject().ContainsKey("Canary__Interval"), Is.False, "only the admin host runs the canary");

        // The secret is .env's value, the same on both hosts, never a literal in the compose file.
        var example = File.ReadAllLines(RepositoryFiles.PathOf(".env.example")).Single(static l => l.StartsWith("HERMES_CANARY_SECRET=", StringComparison.Ordinal));
        Assert.That(Env(services, "api", "HERMES_CANARY_SECRET"), Is.EqualTo(example["HERMES_CANARY_SECRET=".Length..]));
        Assert.That(Env(services, "admin", "HERMES_CANARY_SECRET"), Is.EqualTo(Env(services, "api", "HERMES_CANARY_SECRET")));
        var raw = YamlJson.Read(RepositoryFiles.PathOf("docker-compose.yml"))["services"]!;
        foreach (var service in new[] { "api", "admin" })
        {
            Assert.That(raw[service]!["environment"]!["HERMES_CANARY_SECRET"]!.GetValue<string>(), Is.EqualTo("${HERMES_CANARY_SECRET:?set HERMES_CANARY_SECRET in .env}"), service);
        }
    }

    [Test]
    public async Task Only_the_public_ports_are_published_and_the_management_ports_are_not()
    {
        var services = await ExampleServicesAsync();
        static (string? HostIp, int Target) Published(JsonNode port)
        {
            if (port is JsonObject published)
            {
                return (published["host_ip"]?.GetValue<string>(), int.Parse(published["target"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture));
            }

            // host_ip:published:target/protocol
            var parts = port.GetValue<string>().Split('/')[0].Split(':');
            return (parts.Length == 3 ? parts[0] : null, int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture));
        }

        var api = services["api"]!["ports"]!.AsArray().Select(static p => Published(p!)).ToList();
        var admin = services["admin"]!["ports"]!.AsArray().Select(static p => Published(p!)).ToList();
        Assert.That(api.Select(static p => p.Target), Is.EqualTo(new[] { 8080 }), "the public API only");
        Assert.That(admin.Select(static p => p.Target), Is.EqualTo(new[] { 8080 }), "the admin host's own port only");
        Assert.That(admin[0].HostIp, Is.EqualTo("127.0.0.1"));
        var published = services.Where(static s => s.Value!.AsObject().ContainsKey("ports"))
            .SelectMany(static s => s.Value!["ports"]!.AsArray().Select(p => (Service: s.Key, Published(p!).Target)));
        Assert.That(published.Where(static p => p.Target == 9464), Is.Empty, "no management port is published");
    }

    [Test]
    public async Task The_workers_deliver_to_the_imported_n8n_workflow_with_the_secrets_n8n_checks()
    {
        var services = await ExampleServicesAsync();
        var workflow = JsonNode.Parse(RepositoryFiles.Read("deploy", "n8n", "hermes-workflow.json"))!;
        var path = workflow["nodes"]!.AsArray().Single(static n => n!["type"]!.GetValue<string>() == "n8n-nodes-base.webhook")!["parameters"]!["path"]!.GetValue<string>();

        Assert.That(Env(services, "worker", "N8N_WEBHOOK_URL"), Is.EqualTo($"http://n8n:5678/webhook/{path}"));
        Assert.That(Env(services, "worker", "HERMES_WEBHOOK_SECRET"), Is.EqualTo(Env(services, "n8n", "HERMES_WEBHOOK_SECRET")));
        Assert.That(Env(services, "worker", "Webhook__AuthHeaderName"), Is.EqualTo(Env(services, "n8n", "HERMES_N8N_AUTH_HEADER_NAME")));
        Assert.That(Env(services, "worker", "Webhook__AuthHeaderValue"), Is.EqualTo(Env(services, "n8n", "HERMES_N8N_AUTH_HEADER_VALUE")));
        Assert.That(Env(services, "n8n", "N8N_BLOCK_ENV_ACCESS_IN_NODE"), Is.EqualTo("false"), "the Code node reads the secret via $env");
        Assert.That(Env(services, "n8n", "BREVO_API_URL"), Is.EqualTo("https://api.brevo.com"));
        Assert.That(services["n8n"]!["entrypoint"]!.AsArray().Select(static e => e!.GetValue<string>()), Is.EqualTo(new[] { "/bin/sh", "/hermes/entrypoint.sh" }));
        var mounts = services["n8n"]!["volumes"]!.AsArray().Select(static v => v!.GetValue<string>()).ToList();
        Assert.That(mounts, Does.Contain(RepositoryFiles.PathOf("deploy", "n8n", "entrypoint.sh") + ":/hermes/entrypoint.sh:ro"));
        Assert.That(mounts, Does.Contain(RepositoryFiles.PathOf("deploy", "n8n", "hermes-workflow.json") + ":/hermes/workflows/hermes-workflow.json:ro"));
    }

    [Test]
    public async Task N8n_and_its_runners_sidecar_carry_the_settings_n8n_documents_for_external_task_runners()
    {
        var services = await ExampleServicesAsync();
        var n8n = services["n8n"]!["environment"]!.AsObject();
        var runners = services["n8n-runners"]!["environment"]!.AsObject();

        // n8n 2.x, "Set up task runners", external mode: these on n8n...
        Assert.That(Env(services, "n8n", "N8N_RUNNERS_MODE"), Is.EqualTo("external"));
        Assert.That(Env(services, "n8n", "N8N_RUNNERS_BROKER_LISTEN_ADDRESS"), Is.EqualTo("0.0.0.0"));
        Assert.That(Env(services, "n8n", "N8N_RUNNERS_AUTH_TOKEN"), Is.Not.Empty);
        Assert.That(n8n.ContainsKey("N8N_RUNNERS_ENABLED"), Is.False, "deprecated since n8n 2.0");
        Assert.That(n8n.ContainsKey("N8N_RUNNERS_TASK_BROKER_URI"), Is.False, "a runner setting");
        // ...these on the sidecar, with the same token.
        Assert.That(Env(services, "n8n-runners", "N8N_RUNNERS_TASK_BROKER_URI"), Is.EqualTo("http://n8n:5679"));
        Assert.That(Env(services, "n8n-runners", "N8N_RUNNERS_AUTH_TOKEN"), Is.EqualTo(Env(services, "n8n", "N8N_RUNNERS_AUTH_TOKEN")));
        Assert.That(runners.ContainsKey("N8N_RUNNERS_MODE"), Is.False, "an n8n setting");
        // $env is resolved by n8n, require() allow-lists by the image's launcher config: neither on the sidecar.
        Assert.That(runners.Select(static p => p.Key), Has.None.StartsWith("HERMES_").And.None.EqualTo("N8N_BLOCK_ENV_ACCESS_IN_NODE").And.None.EqualTo("NODE_FUNCTION_ALLOW_BUILTIN"));
        Assert.That(n8n.ContainsKey("NODE_FUNCTION_ALLOW_BUILTIN"), Is.False, "ignored in external mode: the runners image allows crypto itself");
    }

    [Test]
    public async Task N8ns_editor_is_published_on_the_hosts_loopback_only()
    {
        var services = await ExampleServicesAsync();

        var ports = services["n8n"]!["ports"]!.AsArray().Select(static p => p!.ToJsonString()).ToList();

        Assert.That(ports, Has.Count.EqualTo(1));
        var port = services["n8n"]!["ports"]![0]!;
        var hostIp = port is JsonObject published ? published["host_ip"]?.GetValue<string>() : port.GetValue<string>().Split(':')[0];
        Assert.That(hostIp, Is.EqualTo("127.0.0.1"), ports[0]);
    }

    [Test]
    public async Task Images_are_pinned_and_n8n_and_its_runners_share_a_version()
    {
        var services = await ExampleServicesAsync();

        foreach (var (name, service) in services)
        {
            var image = service!["image"]!.GetValue<string>();
            Assert.That(image, Does.Contain(':'), $"{name} pins a tag");
            Assert.That(image, Does.Not.EndWith(":latest"), name);
        }

        var n8n = services["n8n"]!["image"]!.GetValue<string>();
        var runners = services["n8n-runners"]!["image"]!.GetValue<string>();
        Assert.That(n8n, Does.StartWith("n8nio/n8n:"));
        Assert.That(runners, Is.EqualTo("n8nio/runners:" + n8n.Split(':')[1]));
    }

    [Test]
    public async Task Every_dotnet_service_exports_telemetry_to_the_collector_under_its_own_name()
    {
        var services = await ExampleServicesAsync();
        var collector = RepositoryFiles.Read("deploy", "otel", "collector.yaml");

        var names = new List<string>();
        foreach (var service in new[] { "api", "admin", "worker", "migrate", "cli" })
        {
            Assert.That(Env(services, service, "OTEL_EXPORTER_OTLP_ENDPOINT"), Is.EqualTo("http://otel-collector:4317"), service);
            Assert.That(Env(services, service, "OTEL_RESOURCE_ATTRIBUTES"), Does.Contain("deployment.environment.name=compose")
                .And.Not.Contain("deployment.environment="), service + ": one deployment.environment.name, not the deprecated deployment.environment");
            names.Add(Env(services, service, "OTEL_SERVICE_NAME"));
        }

        Assert.That(names, Is.Unique);
        Assert.That(collector, Does.Contain("endpoint: 0.0.0.0:4317"));
        Assert.That(collector, Does.Contain("endpoint: jaeger:4317"));
        Assert.That(services["otel-collector"]!["volumes"]!.AsArray().Select(static v => v!.GetValue<string>()),
            Does.Contain(RepositoryFiles.PathOf("deploy", "otel", "collector.yaml") + ":/etc/otelcol/collector.yaml:ro"));
    }

    [Test]
    public async Task Each_host_connects_with_its_own_login_and_only_the_one_shot_jobs_use_the_owner()
    {
        var services = await ExampleServicesAsync();
        var owner = Env(services, "postgres", "POSTGRES_USER");

        // service -> (login, the postgres service's variable holding its password)
        var expected = new Dictionary<string, (string Login, string Password)>
        {
            ["migrate"] = (owner, "POSTGRES_PASSWORD"),
            ["api"] = ("hermes_api_login", "HERMES_DB_API_PASSWORD"),
            ["worker"] = ("hermes_worker_login", "HERMES_DB_WORKER_PASSWORD"),
            ["admin"] = ("hermes_admin_login", "HERMES_DB_ADMIN_PASSWORD"),
            ["cli"] = ("hermes_admin_login", "HERMES_DB_ADMIN_PASSWORD"),
        };
        foreach (var (service, (login, password)) in expected)
        {
            foreach (var key in new[] { "DATABASE_URL", "DATABASE_DIRECT_URL" })
            {
                var url = new Uri(Env(services, service, key));
                Assert.That(url.UserInfo, Is.EqualTo($"{login}:{Env(services, "postgres", password)}"), $"{service} {key}");
                Assert.That(url.Host + url.AbsolutePath, Is.EqualTo("postgres/hermes"), $"{service} {key}");
            }
        }

        Assert.That(owner, Is.Not.EqualTo("hermes_api_login").And.Not.EqualTo("hermes_worker_login"));
        Assert.That(services["migrate"]!["command"]!.AsArray().Select(static c => c!.GetValue<string>()), Does.Contain("--roles"), "the grants the logins rely on are applied with every migration");
        Assert.That(Env(services, "backup", "PGUSER"), Is.EqualTo(owner), "a dump reads every table");
    }

    [Test]
    public async Task The_admin_endpoints_run_in_their_own_host_on_the_hosts_loopback_and_the_public_api_has_none()
    {
        var services = await ExampleServicesAsync();

        Assert.That(services["api"]!["environment"]!.AsObject().ContainsKey("HERMES_ADMIN_API_KEY"), Is.False, "no admin routes on the public API");
        Assert.That(Env(services, "admin", "HERMES_ADMIN_API_KEY"), Is.Not.Empty);
        Assert.That(services["admin"]!["image"]!.GetValue<string>(), Does.StartWith("hermes-admin:"), "a program and image of its own");
        Assert.That(services["admin"]!["build"]!["dockerfile"]!.GetValue<string>(), Is.EqualTo("deploy/Dockerfile.admin"));
        var ports = services["admin"]!["ports"]!.AsArray();
        Assert.That(ports, Has.Count.EqualTo(1));
        var hostIp = ports[0] is JsonObject published ? published["host_ip"]?.GetValue<string>() : ports[0]!.GetValue<string>().Split(':')[0];
        Assert.That(hostIp, Is.EqualTo("127.0.0.1"), ports[0]!.ToJsonString());
        Assert.That(DependsOn(services, "admin", "service_completed_successfully"), Does.Contain("migrate"));
        Assert.That(services["cli"]!["image"]!.GetValue<string>(), Does.StartWith("hermes-cli:"));
        Assert.That(services["cli"]!["profiles"]!.AsArray().Select(static p => p!.GetValue<string>()), Is.EqualTo(new[] { "ops" }), "started only by `run`");
    }

    [Test]
    public async Task The_postgres_init_scripts_create_the_logins_from_the_passwords_in_env()
    {
        var services = await ExampleServicesAsync();
        var mounts = services["postgres"]!["volumes"]!.AsArray().Select(static v => v!.GetValue<string>()).ToList();

        Assert.That(mounts, Does.Contain(RepositoryFiles.PathOf("deploy", "postgres", "initdb") + ":/docker-entrypoint-initdb.d:ro"));
        var script = RepositoryFiles.PathOf("deploy", "postgres", "initdb", "02-hermes-logins.sh");
        Assert.That(File.Exists(script), Is.True);
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(script) & UnixFileMode.UserExecute, Is.EqualTo(UnixFileMode.UserExecute), "executed, not sourced, by the image's entrypoint");
        }

        var text = File.ReadAllText(script);
        foreach (var variable in new[] { "HERMES_DB_API_PASSWORD", "HERMES_DB_WORKER_PASSWORD", "HERMES_DB_ADMIN_PASSWORD" })
        {
            Assert.That(text, Does.Contain(variable));
        }
    }

    [Test]
    public async Task Every_file_the_compose_file_mounts_or_builds_from_is_in_the_repository()
    {
        var services = await ExampleServicesAsync();

        foreach (var (name, service) in services)
        {
            foreach (var volume in service!["volumes"]?.AsArray() ?? [])
            {
                var source = volume!.GetValue<string>().Split(':')[0];
                if (source.StartsWith('/') && source != RepositoryFiles.PathOf("backups"))
                {
                    Assert.That(File.Exists(source) || Directory.Exists(source), Is.True, $"{name} mounts {source}");
                }
            }

            if (service["build"] is { } build)
            {
                Assert.That(File.Exists(RepositoryFiles.PathOf(build["dockerfile"]!.GetValue<string>())), Is.True, name);
            }
        }
    }

    /// <summary>The secrets a plain <c>docker compose up</c> needs; nothing of the monitoring profile.</summary>
    private static readonly string[] RequiredSecrets =
    [
        "POSTGRES_PASSWORD", "HERMES_DB_API_PASSWORD", "HERMES_DB_WORKER_PASSWORD", "HERMES_DB_ADMIN_PASSWORD", "HERMES_ADMIN_API_KEY",
        "HERMES_WEBHOOK_SECRET", "HERMES_N8N_AUTH_HEADER_VALUE", "N8N_ENCRYPTION_KEY", "N8N_RUNNERS_AUTH_TOKEN", "BREVO_API_KEY", "HERMES_CANARY_SECRET",
    ];

    [Test]
    public async Task The_monitoring_services_sit_in_the_monitoring_profile_and_the_core_services_in_none()
    {
        var services = await ExampleServicesAsync();
        static string[] Profiles(JsonNode service) => service["profiles"] is JsonArray profiles ? [.. profiles.Select(static p => p!.GetValue<string>())] : [];

        foreach (var name in new[] { "prometheus", "alertmanager", "grafana" })
        {
            Assert.That(Profiles(services[name]!), Is.EqualTo(new[] { "monitoring" }), name);
        }

        foreach (var name in new[] { "backup", "cli" })
        {
            Assert.That(Profiles(services[name]!), Is.EqualTo(new[] { "ops" }), name);
        }

        foreach (var name in new[] { "postgres", "migrate", "api", "admin", "worker", "n8n", "n8n-runners", "otel-collector", "jaeger" })
        {
            Assert.That(Profiles(services[name]!), Is.Empty, name + " starts with a plain `docker compose up`");
            var dependsOn = services[name]!["depends_on"] is JsonObject d ? d.Select(static p => p.Key) : [];
            Assert.That(dependsOn, Has.None.AnyOf("prometheus", "alertmanager", "grafana"), name + " does not need the monitoring profile");
        }
    }

    [Test]
    public async Task A_plain_up_needs_only_the_required_secrets()
    {
        var envFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(envFile, RequiredSecrets.Select(static s => $"{s}=set-{s.ToLowerInvariant()}"));

            var (result, config) = await ConfigAsync(envFile);

            Assert.That(result.ExitCode, Is.Zero, result.Describe());
            Assert.That(result.StandardError, Does.Not.Contain("is not set"), "no monitoring variable is asked for");
            var services = config!["services"]!.AsObject();
            Assert.That(Env(services, "alertmanager", "ALERTMANAGER_SLACK_WEBHOOK_URL"), Is.Empty);
            Assert.That(Env(services, "grafana", "GF_SECURITY_ADMIN_PASSWORD"), Is.Empty, "checked when Grafana starts, not by compose");

            // Each required secret, left out alone, still stops compose with its name.
            foreach (var left in RequiredSecrets)
            {
                await File.WriteAllLinesAsync(envFile, RequiredSecrets.Where(s => s != left).Select(static s => $"{s}=set"));
                var (refused, _) = await ConfigAsync(envFile);
                Assert.That(refused.ExitCode, Is.Not.Zero, left);
                Assert.That(refused.StandardError, Does.Contain(left));
            }
        }
        finally
        {
            File.Delete(envFile);
        }
    }

    [Test]
    public async Task A_missing_secret_stops_compose_with_its_name()
    {
        var envFile = Path.GetTempFileName();
        try
        {
            var lines = File.ReadAllLines(RepositoryFiles.PathOf(".env.example")).Where(static l => !l.StartsWith("HERMES_WEBHOOK_SECRET=", StringComparison.Ordinal));
            await File.WriteAllLinesAsync(envFile, lines);

            var (result, _) = await ConfigAsync(envFile);

            Assert.That(result.ExitCode, Is.Not.Zero);
            Assert.That(result.StandardError, Does.Contain("HERMES_WEBHOOK_SECRET"));
        }
        finally
        {
            File.Delete(envFile);
        }
    }

    [Test]
    public void The_example_env_holds_placeholders_not_secrets()
    {
        var secrets = new[]
        {
            "POSTGRES_PASSWORD", "HERMES_DB_API_PASSWORD", "HERMES_DB_WORKER_PASSWORD", "HERMES_DB_ADMIN_PASSWORD", "HERMES_ADMIN_API_KEY", "HERMES_WEBHOOK_SECRET",
            "HERMES_N8N_AUTH_HEADER_VALUE", "N8N_ENCRYPTION_KEY", "N8N_RUNNERS_AUTH_TOKEN", "BREVO_API_KEY", "GRAFANA_ADMIN_PASSWORD", "HERMES_CANARY_SECRET",
        };
        var values = File.ReadAllLines(RepositoryFiles.PathOf(".env.example"))
            .Where(static l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .ToDictionary(static l => l[..l.IndexOf('=', StringComparison.Ordinal)], static l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

        foreach (var secret in secrets)
        {
            Assert.That(values[secret], Does.StartWith("CHANGE_ME_"), secret);
        }

        // The optional receivers' secrets are empty: set, their receiver is on (a placeholder would stop Alertmanager).
        foreach (var optional in new[] { "ALERTMANAGER_SLACK_WEBHOOK_URL", "ALERTMANAGER_SMTP_PASSWORD", "ALERTMANAGER_PAGERDUTY_ROUTING_KEY" })
        {
            Assert.That(values[optional], Is.Empty, optional);
        }
    }

    [Test]
    public async Task Generate_env_fills_every_generatable_secret_with_fresh_random_values()
    {
        var bash = ExternalTool.Require("bash", "bash runs deploy/generate-env.sh.");
        var folder = Directory.CreateTempSubdirectory("hermes-env-");
        try
        {
            var first = Path.Combine(folder.FullName, "first.env");
            var second = Path.Combine(folder.FullName, "second.env");

            var run = await ExternalTool.RunAsync(bash, [RepositoryFiles.PathOf("deploy", "generate-env.sh"), first]);
            await ExternalTool.RunAsync(bash, [RepositoryFiles.PathOf("deploy", "generate-env.sh"), second]);
            var again = await ExternalTool.RunAsync(bash, [RepositoryFiles.PathOf("deploy", "generate-env.sh"), first]);

            Assert.That(run.ExitCode, Is.Zero, run.Describe());
            Assert.That(again.ExitCode, Is.Not.Zero, "an existing file is never overwritten");
            var values = ReadEnv(first);
            var others = ReadEnv(second);
            foreach (var key in new[] { "POSTGRES_PASSWORD", "HERMES_DB_API_PASSWORD", "HERMES_DB_WORKER_PASSWORD", "HERMES_DB_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD" })
            {
                Assert.That(values[key], Does.Match("^[0-9a-f]{32}$"), key);
                Assert.That(values[key], Is.Not.EqualTo(others[key]), key + " is random");
            }

            foreach (var key in new[] { "HERMES_ADMIN_API_KEY", "HERMES_N8N_AUTH_HEADER_VALUE", "N8N_ENCRYPTION_KEY", "N8N_RUNNERS_AUTH_TOKEN", "HERMES_CANARY_SECRET" })
            {
                Assert.That(values[key], Does.Match("^[0-9a-f]{64}$"), key);
                Assert.That(values[key], Is.Not.EqualTo(others[key]), key + " is random");
            }

            Assert.That(values["HERMES_WEBHOOK_SECRET"], Does.StartWith("whsec_"));
            Assert.That(Convert.FromBase64String(values["HERMES_WEBHOOK_SECRET"]["whsec_".Length..]), Has.Length.EqualTo(32));
            string[] byHand = ["BREVO_API_KEY"];
            Assert.That(values.Where(static v => v.Value.StartsWith("CHANGE_ME_", StringComparison.Ordinal)).Select(static v => v.Key), Is.EqualTo(byHand));
            Assert.That(run.StandardError, Does.Contain(byHand[0]), "the script says what is left to fill in");
            if (!OperatingSystem.IsWindows())
            {
                Assert.That(File.GetUnixFileMode(first), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            }

            if (ExternalTool.Find("docker-compose") is not null)
            {
                var (result, _) = await ConfigAsync(first);
                Assert.That(result.ExitCode, Is.Zero, result.Describe());
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static Dictionary<string, string> ReadEnv(string path) =>
        File.ReadAllLines(path)
            .Where(static l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .ToDictionary(static l => l[..l.IndexOf('=', StringComparison.Ordinal)], static l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

    [TestCase("Dockerfile.api", "api")]
    [TestCase("Dockerfile.admin", "admin")]
    [TestCase("Dockerfile.worker", "worker")]
    [TestCase("Dockerfile.cli", "cli")]
    public async Task Images_are_stamped_with_the_build_version_they_are_given(string file, string service)
    {
        var dockerfile = RepositoryFiles.Read("deploy", file);
        var compose = await ExampleServicesAsync();

        Assert.That(dockerfile, Does.Contain("ARG HERMES_BUILD_VERSION="), "the context has no .git: MinVer needs the version given");
        Assert.That(dockerfile, Does.Match(@"RUN dotnet publish [^\n]*-p:MinVerVersionOverride=""\$HERMES_BUILD_VERSION"""));
        Assert.That(compose[service]!["build"]!["args"]!["HERMES_BUILD_VERSION"]!.GetValue<string>(), Is.Not.Empty, "compose passes it on");
        Assert.That(RepositoryFiles.Read("docker-compose.yml"), Does.Contain("HERMES_BUILD_VERSION: ${HERMES_BUILD_VERSION:-"), "from the environment of docker compose build");
    }

    // The self-contained API and the native worker carry their runtime: they run on runtime-deps; the admin host is
    // framework-dependent and runs on the ASP.NET image.
    [TestCase("Dockerfile.api", "Hermes.Api", "8080;http://+:9464", "", "runtime-deps:${DOTNET_VERSION}-noble", "[\"/app/Hermes.Api\"]", "/dev/tcp/127.0.0.1/9464 && printf 'GET /health/ready ")]
    [TestCase("Dockerfile.admin", "Hermes.Admin", "8080;http://+:9464", "", "aspnet:${DOTNET_VERSION}-noble", "[\"dotnet\", \"/app/Hermes.Admin.dll\"]", "/dev/tcp/127.0.0.1/9464 && printf 'GET /health/ready ")]
    [TestCase("Dockerfile.worker", "Hermes.Outbox.Worker", "8081", "-noble-aot", "runtime-deps:${DOTNET_VERSION}-noble", "[\"/app/Hermes.Outbox.Worker\"]", "/dev/tcp/127.0.0.1/8081 && printf 'GET /health/ready ")]
    public void Dockerfiles_build_with_the_sdk_and_run_small_non_root_and_health_checked(string file, string project, string port, string sdkVariant, string runtimeImage, string entryPoint, string healthCheck)
    {
        var lines = File.ReadAllLines(RepositoryFiles.PathOf("deploy", file)).Select(static l => l.Trim()).ToList();
        var froms = lines.Where(static l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        var runtime = lines.Skip(lines.LastIndexOf(froms[^1])).ToList();

        Assert.That(froms, Has.Count.EqualTo(2), "multi-stage");
        Assert.That(froms[0], Is.EqualTo($"FROM mcr.microsoft.com/dotnet/sdk:${{DOTNET_VERSION}}{sdkVariant} AS build"));
        Assert.That(froms[1], Is.EqualTo($"FROM mcr.microsoft.com/dotnet/{runtimeImage} AS runtime"));
        Assert.That(lines, Has.Some.Contains($"dotnet publish {project}/{project}.csproj"));
        Assert.That(File.Exists(RepositoryFiles.PathOf(project, project + ".csproj")), Is.True);
        Assert.That(runtime, Has.Some.EqualTo("USER $APP_UID"), "runs as the image's non-root app user");
        Assert.That(runtime.IndexOf("USER $APP_UID"), Is.LessThan(runtime.FindIndex(static l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal))));
        var check = runtime.FindIndex(static l => l.StartsWith("HEALTHCHECK ", StringComparison.Ordinal));
        Assert.That(check, Is.Not.Negative);
        Assert.That(runtime[check + 1], Does.StartWith("CMD ").And.Contain(healthCheck), "the check asks the readiness endpoint");
        Assert.That(runtime, Has.Some.Contains($"ASPNETCORE_URLS=http://+:{port}"));
        Assert.That(runtime, Has.Some.EqualTo($"ENTRYPOINT {entryPoint}"));
    }

    [TestCase("Dockerfile.api", "Hermes.Api", "-r linux-x64 -p:HermesTrimmed=true")]
    [TestCase("Dockerfile.admin", "Hermes.Admin", "")]
    [TestCase("Dockerfile.worker", "Hermes.Outbox.Worker", "-r linux-x64 -p:HermesNative=true")]
    [TestCase("Dockerfile.cli", "Hermes.Cli", "")]
    public void Dockerfiles_restore_in_a_layer_of_their_own_before_the_sources_come_in(string file, string project, string restoreOptions)
    {
        var lines = File.ReadAllLines(RepositoryFiles.PathOf("deploy", file)).Select(static l => l.Trim()).ToList();
        var build = lines.TakeWhile(static l => !l.EndsWith(" AS runtime", StringComparison.Ordinal)).ToList();
        var sources = build.IndexOf("COPY . .");
        var restore = build.FindIndex(static l => l.StartsWith("RUN dotnet restore ", StringComparison.Ordinal));
        var publish = build.FindIndex(static l => l.StartsWith("RUN dotnet publish ", StringComparison.Ordinal));

        Assert.That(restore, Is.Positive.And.LessThan(sources), "restore runs before the sources are copied");
        // .ci/run keeps the newest dangling build stage of each Dockerfile, told apart by this label, for its restore layer.
        var stage = build.FindIndex(static l => l.EndsWith(" AS build", StringComparison.Ordinal));
        Assert.That(build.Skip(stage + 1).First(static l => l.Length > 0 && !l.StartsWith('#')), Is.EqualTo($"LABEL org.hermes.build-stage={file["Dockerfile.".Length..]}"),
            "the build stage is labelled first, so every layer of it carries the label");
        Assert.That(sources, Is.LessThan(publish));
        Assert.That(build[restore], Is.EqualTo($"RUN dotnet restore {project}/{project}.csproj {restoreOptions}".TrimEnd()), "restored for what the publish builds");
        Assert.That(build[publish], Does.Contain(" --no-restore ").And.Contain(restoreOptions));

        // What the restore layer copies is exactly what restore reads: the build-wide files, this project and the
        // projects it references (transitively), so a change to any of them restores again and nothing else does.
        var copied = build.Take(restore).Where(static l => l.StartsWith("COPY ", StringComparison.Ordinal))
            .SelectMany(static l => l["COPY ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1)).ToHashSet();
        var wanted = new HashSet<string> { "global.json", "Directory.Build.props", "Directory.Packages.props" };
        var queue = new Queue<string>([$"{project}/{project}.csproj"]);
        while (queue.TryDequeue(out var csproj))
        {
            if (!wanted.Add(csproj))
            {
                continue;
            }

            var folder = Path.GetDirectoryName(csproj)!;
            foreach (var reference in System.Xml.Linq.XDocument.Load(RepositoryFiles.PathOf(csproj.Split('/'))).Descendants("ProjectReference"))
            {
                var path = Path.GetRelativePath(RepositoryFiles.Root, Path.GetFullPath(Path.Combine(RepositoryFiles.PathOf(folder), reference.Attribute("Include")!.Value.Replace('\\', '/'))));
                queue.Enqueue(path.Replace('\\', '/'));
            }
        }

        Assert.That(copied, Is.EquivalentTo(wanted));
    }

    [Test]
    public void Four_programs_four_images_and_the_cli_image_is_the_hermes_command()
    {
        var dockerfiles = Directory.GetFiles(RepositoryFiles.PathOf("deploy"), "Dockerfile.*").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.That(dockerfiles, Is.EqualTo(new[] { "Dockerfile.admin", "Dockerfile.api", "Dockerfile.cli", "Dockerfile.worker" }));

        var cli = File.ReadAllLines(RepositoryFiles.PathOf("deploy", "Dockerfile.cli")).Select(static l => l.Trim()).ToList();
        Assert.That(cli, Has.Some.Contains("dotnet publish Hermes.Cli/Hermes.Cli.csproj"));
        Assert.That(cli, Has.Some.EqualTo("USER $APP_UID"));
        Assert.That(cli, Has.Some.EqualTo("ENTRYPOINT [\"dotnet\", \"/app/hermes.dll\"]"), "arguments are the verb and its options");
        Assert.That(cli[^1], Is.EqualTo("CMD [\"--help\"]"), "without a verb the image prints its usage");
    }

    [Test]
    public void The_docker_build_context_leaves_out_secrets_and_build_output()
    {
        var ignored = File.ReadAllLines(RepositoryFiles.PathOf(".dockerignore")).Where(static l => l.Length > 0 && !l.StartsWith('#')).ToList();

        Assert.That(ignored, Is.SupersetOf(new[] { ".env", "**/bin/", "**/obj/", ".git", ".hermes/" }));
        Assert.That(ignored, Has.None.StartsWith("Hermes.Api").And.None.StartsWith("Hermes.Admin").And.None.StartsWith("Hermes.Cli")
            .And.None.StartsWith("Hermes.Domain").And.None.StartsWith("Hermes.Persistence").And.None.StartsWith("Hermes.Outbox").And.None.StartsWith("Hermes.ServiceDefaults"));
        Assert.That(ignored, Has.None.EqualTo("global.json").And.None.EqualTo("Directory.Build.props").And.None.EqualTo(".editorconfig"));
        // Docs and scripts stay out, so a change to them reuses the images' layers (docs/deploy-compose.md, "Image sizes").
        Assert.That(ignored, Is.SupersetOf(new[] { "docs/", "*.md", ".ci/", "run.sh" }));
    }

    [Test]
    public void The_docker_build_context_keeps_every_file_the_shipped_projects_take_from_outside_their_folders()
    {
        var ignored = File.ReadAllLines(RepositoryFiles.PathOf(".dockerignore")).Where(static l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var outside = Directory.GetFiles(RepositoryFiles.Root, "*.csproj", SearchOption.AllDirectories)
            .Where(static p => Path.GetFileName(Path.GetDirectoryName(p)!) is "Hermes.Api" or "Hermes.Admin" or "Hermes.Outbox.Worker" or "Hermes.Cli" or "Hermes.Persistence" or "Hermes.Domain" or "Hermes.ServiceDefaults")
            .SelectMany(static p => System.Xml.Linq.XDocument.Load(p).Descendants()
                .Where(static e => e.Name.LocalName != "ProjectReference" && (e.Attribute("Include")?.Value.StartsWith(@"..", StringComparison.Ordinal) ?? false))
                .Select(e => Path.GetRelativePath(RepositoryFiles.Root, Path.GetFullPath(Path.Combine(Path.GetDirectoryName(p)!, e.Attribute("Include")!.Value.Replace('\\', '/')))).Replace('\\', '/')))
            .ToList();

        Assert.That(outside, Does.Contain("deploy/postgres/roles.sql"), "the embedded roles script is found");
        foreach (var file in outside)
        {
            var excludedBy = ignored.Where(p => !p.StartsWith('!') && (file.StartsWith(p.TrimEnd('/') + "/", StringComparison.Ordinal) || file == p)).ToList();
            Assert.That(excludedBy.Count == 0 || ignored.Contains("!" + file), Is.True, $"{file} is left out of the build context by {string.Join(", ", excludedBy)}: `dotnet publish` in the Dockerfiles needs it");
        }
    }
}
