using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Monitoring;

/// <summary>
/// The shipped alert rules and Alertmanager file, checked by the tools Prometheus ships: <c>promtool check rules</c>,
/// <c>promtool test rules</c> (every alert firing and not firing) and <c>amtool check-config</c>; plus what promtool
/// does not check: every alert has a severity, a summary and a runbook, <c>docs/runbooks/&lt;alert&gt;.md</c>, which its
/// <c>runbook_url</c> names under the one base URL (DocumentationTests checks the address).
/// </summary>
public sealed partial class AlertRuleTests
{
    private static readonly string[] Required =
    [
        "HermesDatabaseDown", "HermesApiHighErrorRatio", "HermesDeliveriesFailing", "HermesOutboxStale", "HermesOutboxFailedRows",
        "HermesApiSlow", "HermesCircuitOpen", "HermesHighCpu", "HermesHighMemory", "HermesDatabaseSizeOverQuota", "HermesNoWorker",
        "HermesCanaryFailing", "HermesCanarySlow",
        "HermesXminHorizonHeld", "HermesDeadTuples", "HermesAttemptPartitionsAheadShort",
    ];

    private static string AlertsFile => Path.Combine(MonitoringTools.RulesDirectory, "alerts.yml");

    /// <summary>The alert rules of alerts.yml, each with the text of its block.</summary>
    public static IReadOnlyDictionary<string, string> Alerts()
    {
        var text = File.ReadAllText(AlertsFile);
        var blocks = AlertStart().Split(text).Skip(1).ToList();
        return blocks.ToDictionary(static b => b[..b.IndexOf('\n', StringComparison.Ordinal)].Trim(), static b => b, StringComparer.Ordinal);
    }

    [Test]
    public async Task Promtool_accepts_the_rules()
    {
        var result = await ExternalTool.RunAsync(MonitoringTools.Promtool, ["check", "rules", AlertsFile]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.StandardOutput, Does.Contain($"SUCCESS: {Alerts().Count + 3} rules found"), "the alerts and the three settings");
    }

    [Test]
    public async Task Promtool_accepts_the_compose_Prometheus_config_which_scrapes_every_host_under_the_jobs_the_rules_name()
    {
        var file = Path.Combine(MonitoringTools.RulesDirectory, "prometheus.yml");
        var result = await ExternalTool.RunAsync(MonitoringTools.Promtool, ["check", "config", file]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.StandardOutput, Does.Contain("SUCCESS: 1 rule files found").And.Contain($"SUCCESS: {Alerts().Count + 3} rules found"), "alerts.yml, loaded with the config");

        var config = YamlJson.Read(file);
        var jobs = config["scrape_configs"]!.AsArray().ToDictionary(static j => j!["job_name"]!.GetValue<string>(), static j => j!);
        Assert.That(jobs.Keys, Is.EquivalentTo(new[] { "hermes-api", "hermes-admin", "hermes-worker" }));
        var rules = File.ReadAllText(AlertsFile);
        foreach (var job in JobSelector().Matches(rules).Select(static m => m.Groups["job"].Value).Distinct())
        {
            Assert.That(jobs.Keys, Does.Contain(job), $"alerts.yml selects job=\"{job}\"");
        }

        Assert.That(jobs["hermes-api"]["static_configs"]![0]!["targets"]!.AsArray().Select(static t => t!.GetValue<string>()), Is.EqualTo(new[] { "api:9464" }), "the management port: /metrics is not served on 8080");
        Assert.That(jobs["hermes-admin"]["static_configs"]![0]!["targets"]!.AsArray().Select(static t => t!.GetValue<string>()), Is.EqualTo(new[] { "admin:9464" }));
        var workers = jobs["hermes-worker"]["dns_sd_configs"]![0]!;
        Assert.That(workers["names"]!.AsArray().Select(static n => n!.GetValue<string>()), Is.EqualTo(new[] { "worker" }), "every replica of the compose service, by DNS");
        Assert.That(workers["type"]!.GetValue<string>(), Is.EqualTo("A"));
        Assert.That(workers["port"]!.GetValue<int>(), Is.EqualTo(8081), "the worker's health port");
        Assert.That(config["alerting"]!["alertmanagers"]![0]!["static_configs"]![0]!["targets"]![0]!.GetValue<string>(), Is.EqualTo("alertmanager:9093"));
    }

    [Test]
    public async Task Promtool_unit_tests_pass()
    {
        var tests = Directory.GetFiles(Path.Combine(MonitoringTools.RulesDirectory, "tests"), "*.yml");
        Assert.That(tests, Is.Not.Empty);
        var result = await ExternalTool.RunAsync(MonitoringTools.Promtool, ["test", "rules", .. tests], workingDirectory: Path.Combine(MonitoringTools.RulesDirectory, "tests"));
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.StandardOutput + result.StandardError, Does.Contain("SUCCESS"));
    }

    [Test]
    public async Task A_changed_threshold_fails_the_unit_tests()
    {
        // The unit tests pin the thresholds: the 5xx alert at 50 % instead of 5 % no longer fires on 10 %.
        var copy = Directory.CreateTempSubdirectory("hermes-rules-");
        try
        {
            var rules = File.ReadAllText(AlertsFile);
            Assert.That(rules, Does.Contain("[5m])) > 0.05"));
            Directory.CreateDirectory(Path.Combine(copy.FullName, "tests"));
            File.WriteAllText(Path.Combine(copy.FullName, "alerts.yml"), rules.Replace("[5m])) > 0.05", "[5m])) > 0.5", StringComparison.Ordinal));
            File.Copy(Path.Combine(MonitoringTools.RulesDirectory, "tests", "alerts_test.yml"), Path.Combine(copy.FullName, "tests", "alerts_test.yml"));
            var result = await ExternalTool.RunAsync(MonitoringTools.Promtool, ["test", "rules", "alerts_test.yml"], workingDirectory: Path.Combine(copy.FullName, "tests"));
            Assert.That(result.ExitCode, Is.Not.Zero, result.Describe());
            Assert.That(result.StandardOutput + result.StandardError, Does.Contain("HermesApiHighErrorRatio"));
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    [Test]
    public void Every_alert_has_severity_summary_runbook_and_a_firing_and_a_quiet_unit_test()
    {
        var alerts = Alerts();
        var tests = string.Join("\n", Directory.GetFiles(Path.Combine(MonitoringTools.RulesDirectory, "tests"), "*.yml").Select(File.ReadAllText));
        Assert.That(alerts.Keys, Is.SupersetOf(Required));
        Assert.Multiple(() =>
        {
            foreach (var (name, block) in alerts)
            {
                Assert.That(Severity().Match(block).Groups["s"].Value, Is.AnyOf("critical", "warning"), name + " severity");
                Assert.That(block, Does.Match(@"summary: "".{10,}"""), name + " summary");
                Assert.That(block, Does.Contain($"/docs/runbooks/{name}.md'"), name + " runbook_url");
                Assert.That(File.Exists(RepositoryFiles.PathOf("docs", "runbooks", name + ".md")), Is.True, name + ": docs/runbooks/" + name + ".md");
                Assert.That(Regex.IsMatch(tests, $@"alertname: {name}\s+exp_alerts: \[\]"), Is.True, name + " has a not-firing case");
                Assert.That(Regex.IsMatch(tests, $@"alertname: {name}\s+exp_alerts:\s+- exp_labels: \{{ severity: {Severity().Match(block).Groups["s"].Value}"), Is.True, name + " has a firing case");
            }
        });
    }

    [Test]
    public async Task Amtool_accepts_the_Alertmanager_file_with_its_three_receivers_and_no_inline_secret()
    {
        var file = RepositoryFiles.PathOf("deploy", "monitoring", "alertmanager", "alertmanager.yml");
        var result = await ExternalTool.RunAsync(MonitoringTools.Amtool, ["check-config", file]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        var text = File.ReadAllText(file);
        Assert.Multiple(() =>
        {
            Assert.That(result.StandardOutput, Does.Contain("SUCCESS").And.Contain("2 receivers"));
            Assert.That(text, Does.Contain("pagerduty_configs").And.Contain("slack_configs").And.Contain("email_configs"));
            Assert.That(text, Does.Contain("routing_key_file:").And.Contain("slack_api_url_file:").And.Contain("smtp_auth_password_file:"));
            Assert.That(Regex.IsMatch(text, @"^\s*(routing_key|service_key|api_url|slack_api_url|smtp_auth_password|auth_password):", RegexOptions.Multiline), Is.False, "secrets only from files");
        });

        // amtool is no rubber stamp: a route to a receiver that does not exist is refused.
        var broken = Path.Combine(Path.GetTempPath(), "hermes-am-" + Guid.NewGuid().ToString("N") + ".yml");
        await File.WriteAllTextAsync(broken, text.Replace("receiver: on-call", "receiver: nobody", StringComparison.Ordinal));
        try
        {
            var refused = await ExternalTool.RunAsync(MonitoringTools.Amtool, ["check-config", broken]);
            Assert.That(refused.ExitCode, Is.Not.Zero, refused.Describe());
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [GeneratedRegex(@"^\s*- alert: ", RegexOptions.Multiline)]
    private static partial Regex AlertStart();

    [GeneratedRegex(@"job=""(?<job>[a-z-]+)""")]
    private static partial Regex JobSelector();

    [GeneratedRegex(@"severity: (?<s>\w+)")]
    private static partial Regex Severity();
}
