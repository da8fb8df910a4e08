using System.Text.Json.Nodes;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Monitoring;

/// <summary>
/// The start scripts of compose's monitoring profile, run for real with bash: Alertmanager's
/// <c>render-config.sh</c> over every combination of receiver secrets (each configuration it writes checked by
/// <c>amtool check-config</c> and read back as YAML), and Grafana's admin-password check.
/// </summary>
public sealed class MonitoringStartScriptTests
{
    private static readonly (string Variable, string File)[] Secrets =
    [
        ("ALERTMANAGER_SLACK_WEBHOOK_URL", "slack-webhook-url"),
        ("ALERTMANAGER_SMTP_PASSWORD", "smtp-password"),
        ("ALERTMANAGER_PAGERDUTY_ROUTING_KEY", "pagerduty-routing-key"),
    ];

    private DirectoryInfo _folder = null!;

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("hermes-am-render-");

    [TearDown]
    public void DeleteFolder() => _folder.Delete(recursive: true);

    private string SecretsDir => Path.Combine(_folder.FullName, "secrets");

    private string Output => Path.Combine(_folder.FullName, "alertmanager.yml");

    private static string Bash => ExternalTool.Require("bash", "bash runs the start scripts.");

    /// <summary>Runs render-config.sh with only <paramref name="given"/> set (the others removed from its environment).</summary>
    private async Task<ToolResult> RenderAsync(IReadOnlyDictionary<string, string> given)
    {
        var environment = new Dictionary<string, string?> { ["ALERTMANAGER_SECRETS_DIR"] = SecretsDir };
        foreach (var (variable, _) in Secrets)
        {
            environment[variable] = given.TryGetValue(variable, out var value) ? value : null;
        }

        return await ExternalTool.RunAsync(Bash, [RepositoryFiles.PathOf("deploy", "monitoring", "alertmanager", "render-config.sh"), Output], environment: environment);
    }

    private static IEnumerable<string> Kinds(JsonNode? receiver) =>
        receiver is JsonObject r ? r.Where(static p => p.Key.EndsWith("_configs", StringComparison.Ordinal)).Select(static p => p.Key) : [];

    public static IEnumerable<TestCaseData> Combinations() =>
        Enumerable.Range(0, 8).Select(static mask => new TestCaseData(mask & 1, mask & 2, mask & 4).SetArgDisplayNames(
            $"slack={(mask & 1) != 0}", $"email={(mask & 2) != 0}", $"pagerduty={(mask & 4) != 0}"));

    [TestCaseSource(nameof(Combinations))]
    public async Task Alertmanager_starts_with_exactly_the_receivers_whose_secrets_are_given(int slack, int email, int pagerduty)
    {
        var amtool = MonitoringTools.Amtool;
        var given = new Dictionary<string, string>();
        if (slack != 0)
        {
            given["ALERTMANAGER_SLACK_WEBHOOK_URL"] = "https://hooks.slack.com/services/T0/B0/test";
        }

        if (email != 0)
        {
            given["ALERTMANAGER_SMTP_PASSWORD"] = "smtp pass with 'quotes' and $dollar";
        }

        if (pagerduty != 0)
        {
            given["ALERTMANAGER_PAGERDUTY_ROUTING_KEY"] = "0123456789abcdef0123456789abcdef";
        }

        var run = await RenderAsync(given);
        Assert.That(run.ExitCode, Is.Zero, run.Describe());

        var check = await ExternalTool.RunAsync(amtool, ["check-config", Output]);
        Assert.That(check.ExitCode, Is.Zero, check.Describe());
        Assert.That(check.StandardOutput, Does.Contain("SUCCESS").And.Contain("2 receivers"));

        var config = YamlJson.Parse(await File.ReadAllTextAsync(Output));
        var receivers = config["receivers"]!.AsArray().ToDictionary(static r => r!["name"]!.GetValue<string>(), static r => r);
        Assert.That(receivers.Keys, Is.EquivalentTo(new[] { "on-call", "team-chat-and-email" }), "both routes' receivers exist, empty when nothing is given");
        var onCall = new List<string>();
        var team = new List<string>();
        if (pagerduty != 0)
        {
            onCall.Add("pagerduty_configs");
        }

        if (slack != 0)
        {
            onCall.Add("slack_configs");
            team.Add("slack_configs");
        }

        if (email != 0)
        {
            team.Add("email_configs");
        }

        Assert.That(Kinds(receivers["on-call"]), Is.EquivalentTo(onCall), "critical: PagerDuty and Slack, as given");
        Assert.That(Kinds(receivers["team-chat-and-email"]), Is.EquivalentTo(team), "warnings: Slack and email, as given");
        var global = config["global"]!.AsObject();
        Assert.That(global.ContainsKey("slack_api_url_file"), Is.EqualTo(slack != 0));
        Assert.That(global.ContainsKey("smtp_auth_password_file"), Is.EqualTo(email != 0));

        // Each given secret is in its file, readable by its owner only, and nowhere in the configuration.
        var text = await File.ReadAllTextAsync(Output);
        foreach (var (variable, file) in Secrets)
        {
            var path = Path.Combine(SecretsDir, file);
            Assert.That(File.Exists(path), Is.EqualTo(given.ContainsKey(variable)), file);
            if (given.TryGetValue(variable, out var value))
            {
                Assert.That(await File.ReadAllTextAsync(path), Is.EqualTo(value), file);
                Assert.That(text, Does.Contain(path), "the configuration names the file");
                Assert.That(text, Does.Not.Contain(value), "the secret itself stays out of the configuration");
                if (!OperatingSystem.IsWindows())
                {
                    Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), file);
                }
            }
            else
            {
                Assert.That(run.StandardError, Does.Contain($"{variable} is not set"), "says which receiver is off");
            }
        }

        if (given.Count == 0)
        {
            Assert.That(run.StandardError, Does.Contain("sent nowhere"));
        }
    }

    [Test]
    public async Task With_all_three_secrets_it_writes_the_shipped_alertmanager_yml()
    {
        var run = await RenderAsync(Secrets.ToDictionary(static s => s.Variable, static s => "value-of-" + s.File));
        Assert.That(run.ExitCode, Is.Zero, run.Describe());

        var rendered = (await File.ReadAllTextAsync(Output)).Replace(SecretsDir, "/etc/alertmanager/secrets", StringComparison.Ordinal);
        var shipped = RepositoryFiles.Read("deploy", "monitoring", "alertmanager", "alertmanager.yml");
        Assert.That(YamlJson.Parse(rendered).ToJsonString(), Is.EqualTo(YamlJson.Parse(shipped).ToJsonString()));
    }

    [Test]
    public async Task A_secret_from_a_mounted_file_turns_its_receiver_on()
    {
        Directory.CreateDirectory(SecretsDir);
        await File.WriteAllTextAsync(Path.Combine(SecretsDir, "pagerduty-routing-key"), "mounted-routing-key");

        var run = await RenderAsync(new Dictionary<string, string>());

        Assert.That(run.ExitCode, Is.Zero, run.Describe());
        var receivers = YamlJson.Parse(await File.ReadAllTextAsync(Output))["receivers"]!.AsArray();
        Assert.That(Kinds(receivers.Single(static r => r!["name"]!.GetValue<string>() == "on-call")), Is.EqualTo(new[] { "pagerduty_configs" }));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(SecretsDir, "pagerduty-routing-key")), Is.EqualTo("mounted-routing-key"), "left as mounted");
    }

    [TestCase("ALERTMANAGER_SLACK_WEBHOOK_URL", "CHANGE_ME_slack_webhook_url")]
    [TestCase("ALERTMANAGER_SMTP_PASSWORD", "CHANGE_ME_smtp_password")]
    [TestCase("ALERTMANAGER_PAGERDUTY_ROUTING_KEY", "CHANGE_ME_pagerduty_routing_key")]
    public async Task A_placeholder_left_in_env_stops_Alertmanager_with_exit_code_78_naming_the_variable(string variable, string placeholder)
    {
        var run = await RenderAsync(new Dictionary<string, string> { [variable] = placeholder, ["ALERTMANAGER_SLACK_WEBHOOK_URL"] = variable == "ALERTMANAGER_SLACK_WEBHOOK_URL" ? placeholder : "https://hooks.slack.com/services/T0/B0/test" });

        Assert.That(run.ExitCode, Is.EqualTo(78), run.Describe());
        Assert.That(run.StandardError, Does.Contain(variable + " still holds the placeholder"));
        Assert.That(File.Exists(Output), Is.False, "no configuration is written");
    }

    [TestCase(null, 78, "is not set")]
    [TestCase("", 78, "is not set")]
    [TestCase("CHANGE_ME_hex32", 78, "still holds the placeholder")]
    [TestCase("0f3c9a1e5b7d2c4a6e8f0a1b3c5d7e9f", 0, "")]
    public async Task Grafana_refuses_to_start_without_a_real_admin_password(string? password, int exitCode, string message)
    {
        var run = await ExternalTool.RunAsync(Bash, [RepositoryFiles.PathOf("deploy", "monitoring", "grafana", "check-admin-password.sh")],
            environment: new Dictionary<string, string?> { ["GF_SECURITY_ADMIN_PASSWORD"] = password, ["GF_SECURITY_ADMIN_PASSWORD__FILE"] = null });

        Assert.That(run.ExitCode, Is.EqualTo(exitCode), run.Describe());
        if (exitCode != 0)
        {
            Assert.That(run.StandardError, Does.Contain("GRAFANA_ADMIN_PASSWORD " + message));
        }
        else
        {
            Assert.That(run.StandardError, Is.Empty);
        }
    }
}
