using System.Diagnostics;
using System.Text.Json.Nodes;
using Hermes.Persistence.Local;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Containers;

/// <summary>
/// The shipped docker-compose.yml, brought up for real under a project name of its own. The file the test runs is
/// derived from the shipped one: `docker-compose config` of docker-compose.yml plus compose.receiver.yml (which only
/// adds the receiver standing in for n8n), minus the services no image can be had for here (<see cref="LeftOut"/>) and
/// the depends_on entries that name them. Nothing else is changed; <see cref="Shipped"/>, <see cref="Merged"/> and
/// <see cref="Derived"/> let a test check that. Secrets come from deploy/generate-env.sh, host ports are free ones.
/// </summary>
public sealed class ComposeStack : IAsyncDisposable
{
    /// <summary>
    /// Services of docker-compose.yml that are not run: no image for them can be built or pulled here (n8n and Grafana
    /// are packaged neither by Debian nor as anything a stand-in could be built from; the collector and Jaeger neither).
    /// </summary>
    public static readonly IReadOnlyList<string> LeftOut = ["n8n", "n8n-runners", "otel-collector", "jaeger", "grafana"];

    /// <summary>The named volumes of <see cref="LeftOut"/> services, left out with them.</summary>
    public static readonly IReadOnlyList<string> LeftOutVolumes = ["n8n-data", "grafana-data"];

    public const string ReceiverService = "receiver";
    public const string TestApplicationName = "hermes-compose-test";

    private readonly string _dockerHost;
    private readonly string _compose;
    private readonly DirectoryInfo _folder;

    private ComposeStack(string dockerHost, string compose, DirectoryInfo folder, Dictionary<string, string> env, JsonObject shipped, JsonObject merged, JsonObject derived)
    {
        _dockerHost = dockerHost;
        _compose = compose;
        _folder = folder;
        Env = env;
        Shipped = shipped;
        Merged = merged;
        Derived = derived;
        Project = $"hermesct{Environment.ProcessId}";
    }

    public string Project { get; }

    /// <summary>The .env the stack runs with (generate-env.sh's output plus free host ports).</summary>
    public IReadOnlyDictionary<string, string> Env { get; }

    public JsonObject Shipped { get; }

    public JsonObject Merged { get; }

    public JsonObject Derived { get; }

    public string DerivedFile => Path.Combine(_folder.FullName, "docker-compose.derived.json");

    /// <summary>One JSON line per request the receiver took.</summary>
    public string ReceivedFile => Path.Combine(_folder.FullName, "received", "received.jsonl");

    /// <summary>While this file holds a number, the receiver waits that many milliseconds before each answer (receiver.cs).</summary>
    public string ReceiverDelayFile => Path.Combine(_folder.FullName, "received", "delay-ms");

    public int ApiPort => int.Parse(Env["HERMES_API_HOST_PORT"], System.Globalization.CultureInfo.InvariantCulture);

    public int AdminPort => int.Parse(Env["HERMES_ADMIN_HOST_PORT"], System.Globalization.CultureInfo.InvariantCulture);

    public int PrometheusPort => int.Parse(Env["PROMETHEUS_HOST_PORT"], System.Globalization.CultureInfo.InvariantCulture);

    public int AlertmanagerPort => int.Parse(Env["ALERTMANAGER_HOST_PORT"], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The compose database as its owner, through the port published on the host's loopback.</summary>
    public string OwnerConnectionString(string database = "hermes") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = int.Parse(Env["POSTGRES_HOST_PORT"], System.Globalization.CultureInfo.InvariantCulture),
        Username = "hermes",
        Password = Env["POSTGRES_PASSWORD"],
        Database = database,
        ApplicationName = TestApplicationName,
        Pooling = false,
    }.ConnectionString;

    public static async Task<ComposeStack> PrepareAsync(string dockerHost)
    {
        var compose = ExternalTool.Require("docker-compose", "apt-get install -y docker-compose");
        var folder = Directory.CreateTempSubdirectory("hermes-compose-");
        var received = Directory.CreateDirectory(Path.Combine(folder.FullName, "received"));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(received.FullName, (UnixFileMode)0x1FF); // 0777: the receiver container writes here
        }

        var envFile = Path.Combine(folder.FullName, ".env");
        var generated = await ExternalTool.RunAsync("bash", [RepositoryFiles.PathOf("deploy", "generate-env.sh"), envFile]);
        Assert.That(generated.ExitCode, Is.Zero, generated.Describe());
        var overrides = new Dictionary<string, string>
        {
            ["HERMES_API_HOST_PORT"] = Port(),
            ["HERMES_ADMIN_HOST_PORT"] = Port(),
            ["POSTGRES_HOST_PORT"] = Port(),
            ["N8N_HOST_PORT"] = Port(),
            ["PROMETHEUS_HOST_PORT"] = Port(),
            ["ALERTMANAGER_HOST_PORT"] = Port(),
            ["GRAFANA_HOST_PORT"] = Port(),
            // The optional receivers, all three on: Alertmanager is checked with every secret file in place.
            ["ALERTMANAGER_SLACK_WEBHOOK_URL"] = "https://hooks.slack.invalid/services/compose-test",
            ["ALERTMANAGER_SMTP_PASSWORD"] = "compose-test-smtp-password",
            ["ALERTMANAGER_PAGERDUTY_ROUTING_KEY"] = "compose-test-routing-key",
            // Images of the test's own tag: a developer's hermes-api:local is left alone.
            ["HERMES_VERSION"] = ShippedImages.Tag,
            // The canary off: the receiver standing in for n8n is not the workflow, so it would answer every canary as
            // unrecognised and queue its CRM erasure beside the tests' own rows (the canary through the real workflow:
            // CanaryInN8nTests, CanaryRunnerTests).
            ["HERMES_CANARY_INTERVAL"] = "00:00:00",
            ["RECEIVER_DATA_DIR"] = received.FullName,
        };
        var lines = File.ReadAllLines(envFile).Select(l => l.Split('=', 2) is [var key, _] && overrides.Remove(key, out var value) ? $"{key}={value}" : l).ToList();
        lines.AddRange(overrides.Select(static p => $"{p.Key}={p.Value}"));
        await File.WriteAllLinesAsync(envFile, lines);
        var env = lines.Where(static l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .ToDictionary(static l => l[..l.IndexOf('=', StringComparison.Ordinal)], static l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

        var shipped = await ConfigAsync(compose, envFile, dockerHost, RepositoryFiles.PathOf("docker-compose.yml"));
        var merged = await ConfigAsync(compose, envFile, dockerHost, RepositoryFiles.PathOf("docker-compose.yml"), RepositoryFiles.PathOf("Hermes.Tests", "Containers", "compose.receiver.yml"));
        var derived = Derive(merged);
        var stack = new ComposeStack(dockerHost, compose, folder, env, shipped, merged, derived);
        await File.WriteAllTextAsync(stack.DerivedFile, derived.ToJsonString());
        return stack;
    }

    /// <summary><paramref name="merged"/> without <see cref="LeftOut"/>, the depends_on entries naming them and their volumes.</summary>
    public static JsonObject Derive(JsonObject merged)
    {
        var derived = merged.DeepClone().AsObject();
        var services = derived["services"]!.AsObject();
        foreach (var name in LeftOut)
        {
            services.Remove(name);
        }

        foreach (var (_, service) in services)
        {
            if (service!["depends_on"] is JsonObject dependsOn)
            {
                foreach (var name in LeftOut)
                {
                    dependsOn.Remove(name);
                }
            }
        }

        if (derived["volumes"] is JsonObject volumes)
        {
            foreach (var name in LeftOutVolumes)
            {
                volumes.Remove(name);
            }
        }

        return derived;
    }

    /// <summary>docker-compose with the derived file, this project, the monitoring profile and the repository as project directory.</summary>
    public Task<ToolResult> ComposeAsync(IEnumerable<string> arguments, TimeSpan timeout) =>
        ExternalTool.RunAsync(_compose, ["-p", Project, "--profile", "monitoring", "-f", DerivedFile, "--project-directory", RepositoryFiles.Root, .. arguments],
            environment: DockerEngine.CommandEnvironment(_dockerHost), timeout: timeout);

    public Task<ToolResult> DockerAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        ExternalTool.RunAsync("docker", arguments, environment: DockerEngine.CommandEnvironment(_dockerHost), timeout: timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>docker-compose v1's container name for replica <paramref name="index"/> of <paramref name="service"/>.</summary>
    public string Container(string service, int index = 1) => $"{Project}_{service}_{index}";

    public async Task<string> InspectAsync(string container, string format)
    {
        var result = await DockerAsync(["inspect", "--format", format, container]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        return result.StandardOutput.Trim();
    }

    /// <summary>Waits until every container's HEALTHCHECK says healthy; fails with the logs when one does not in time.</summary>
    public async Task WaitHealthyAsync(IEnumerable<string> containers, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var waiting = containers.ToList();
        var states = new Dictionary<string, string>();
        while (waiting.Count > 0)
        {
            foreach (var container in waiting.ToList())
            {
                states[container] = await InspectAsync(container, "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}");
                if (states[container] == "running healthy")
                {
                    waiting.Remove(container);
                }
            }

            if (waiting.Count > 0 && clock.Elapsed > timeout)
            {
                Assert.Fail($"Not healthy after {timeout}: {string.Join(", ", waiting.Select(c => $"{c} ({states[c]})"))}\n{await LogsAsync()}");
            }

            if (waiting.Count > 0)
            {
                await Task.Delay(1000);
            }
        }
    }

    /// <summary>The last lines of every service's log, for failure messages.</summary>
    public async Task<string> LogsAsync(int tail = 40)
    {
        var logs = await ComposeAsync(["logs", "--no-color", "--tail", tail.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(60));
        return logs.StandardOutput + logs.StandardError;
    }

    /// <summary>Removes the stack's folder (.env, derived file) of a stack never brought up.</summary>
    public void DeleteFolder() => _folder.Delete(recursive: true);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await ComposeAsync(["down", "--volumes", "--remove-orphans", "--timeout", "10"], TimeSpan.FromMinutes(3));
        _folder.Delete(recursive: true);
    }

    private static async Task<JsonObject> ConfigAsync(string compose, string envFile, string dockerHost, params string[] files)
    {
        var result = await ExternalTool.RunAsync(compose, [.. files.SelectMany(static f => new[] { "-f", f }), "--env-file", envFile, "config"],
            environment: DockerEngine.CommandEnvironment(dockerHost));
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        return YamlJson.Parse(result.StandardOutput);
    }

    private static string Port() => LocalProcesses.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
