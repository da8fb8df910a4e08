using System.Diagnostics;
using Hermes.ServiceDefaults;
using Hermes.Tests.Deploy;
using Hermes.Tests.Faults;

namespace Hermes.Tests.Environments;

/// <summary>
/// A refused configuration is an orderly exit of the real built hosts: exit code 78 (EX_CONFIG), the message alone on
/// stderr, no stack trace, and nothing logged as started before it.
/// </summary>
public sealed class ConfigurationRefusalTests
{
    private const string Placeholder = "REPLACE_ME_with_openssl_rand_hex_32_admin_key";

    [Test]
    public async Task The_admin_host_in_Production_with_a_placeholder_key_exits_78_before_anything_is_on()
    {
        var run = await RunHostAsync("Hermes.Admin", new()
        {
            ["HERMES_ADMIN_API_KEY"] = Placeholder,
            ["DATABASE_URL"] = "postgres://hermes_admin:secret@127.0.0.1:1/hermes",
        });

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(ConfigurationRefusal.ExitCode).And.EqualTo(78), run.ToString());
            Assert.That(run.Error, Does.StartWith("Refusing to start in Production with development defaults:"));
            Assert.That(run.Error, Does.Contain("HERMES_ADMIN_API_KEY still holds the placeholder 'REPLACE_ME'"));
            Assert.That(run.Error, Does.Not.Contain(Placeholder), "the value itself is not echoed");
            AssertNothingElse(run);
            Assert.That(run.Output + run.Error, Does.Not.Contain("Admin API is on").And.Not.Contain("Console is on"));
        });
    }

    [Test]
    public async Task The_admin_host_without_a_key_exits_78_naming_the_setting()
    {
        var run = await RunHostAsync("Hermes.Admin", new() { ["DATABASE_URL"] = "postgres://hermes_admin:secret@127.0.0.1:1/hermes" });

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(78), run.ToString());
            Assert.That(run.Error, Does.StartWith("Refusing to start: the configuration is not valid:"));
            Assert.That(run.Error, Does.Contain("HERMES_ADMIN_API_KEY is not set"));
            AssertNothingElse(run);
        });
    }

    [Test]
    public async Task The_api_without_database_settings_exits_78_naming_the_keys()
    {
        var run = await RunHostAsync("Hermes.Api", []);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(78), run.ToString());
            Assert.That(run.Error, Does.StartWith("Refusing to start: the configuration is not valid:"));
            Assert.That(run.Error, Does.Contain("DATABASE_URL").And.Contain("ConnectionStrings:Hermes"));
            AssertNothingElse(run);
        });
    }

    [Test]
    public async Task The_worker_in_Production_pointed_at_the_development_receiver_exits_78()
    {
        var run = await RunHostAsync("Hermes.Outbox.Worker", new()
        {
            ["DATABASE_URL"] = "postgres://hermes_worker:secret@127.0.0.1:1/hermes",
            ["N8N_WEBHOOK_URL"] = "http://127.0.0.1:8081/dev/n8n",
            ["HERMES_WEBHOOK_SECRET"] = "whsec_" + Convert.ToBase64String(new byte[32]),
        });

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(78), run.ToString());
            Assert.That(run.Error, Does.StartWith("Refusing to start in Production with development defaults:"));
            Assert.That(run.Error, Does.Contain("N8N_WEBHOOK_URL points at the development receiver"));
            AssertNothingElse(run);
        });
    }

    [Test]
    public async Task The_worker_with_nothing_configured_lists_every_problem_under_one_heading()
    {
        var run = await RunHostAsync("Hermes.Outbox.Worker", []);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(78), run.ToString());
            Assert.That(run.Error, Does.StartWith("Refusing to start: the configuration is not valid:"));
            Assert.That(run.Error.Split("Refusing to start").Length - 1, Is.EqualTo(1), "one heading, however many options failed");
            Assert.That(run.Error, Does.Contain("No database is configured: set DATABASE_URL").And.Contain("N8N_WEBHOOK_URL is not set"));
            AssertNothingElse(run);
        });
    }

    [TestCase("Hermes.Api", "postgres://hermes_api:secret@127.0.0.1:1/hermes")]
    [TestCase("Hermes.Admin", "postgres://hermes_admin:secret@127.0.0.1:1/hermes")]
    public async Task A_management_port_the_host_is_not_told_to_listen_on_exits_78_before_it_listens(string project, string databaseUrl)
    {
        var port = Hermes.Tests.Api.HermesApiFactory.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var run = await RunHostAsync(project, new()
        {
            ["DATABASE_URL"] = databaseUrl,
            ["HERMES_ADMIN_API_KEY"] = "management-port-refusal-admin-key-0123456789abcdef",
            ["Management__Port"] = port,
        });

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(78), run.ToString());
            Assert.That(run.Error, Does.StartWith("Refusing to start: the configuration is not valid:"));
            Assert.That(run.Error, Does.Contain($"Management:Port is {port}, but the host is told to listen only on http://127.0.0.1:0"));
            AssertNothingElse(run);
            Assert.That(run.Output + run.Error, Does.Not.Contain("Now listening"));
        });
    }

    /// <summary>No stack trace, no log line, nothing on stdout: the refusal is all there is.</summary>
    private static void AssertNothingElse(HostRun run)
    {
        Assert.That(run.Error, Does.Not.Contain("Unhandled exception").And.Not.Contain("Exception").And.Not.Match(@"\n\s+at "), run.ToString());
        Assert.That(run.Output, Is.Empty, run.ToString());
    }

    private static async Task<HostRun> RunHostAsync(string project, Dictionary<string, string> environment)
    {
        var assembly = ChildProcess.HostAssembly(project);
        // The host sees only what the test gives it: no Hermes, OpenTelemetry or database setting of the test run's own.
        var settings = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(static k => k.StartsWith("HERMES_", StringComparison.Ordinal) || k.StartsWith("OTEL_", StringComparison.Ordinal))
            .Concat(["DATABASE_URL", "ConnectionStrings__Hermes", "DATABASE_DIRECT_URL", "POSTGRES_URL_NON_POOLING", "ASPNETCORE_URLS", "DOTNET_ENVIRONMENT", "N8N_WEBHOOK_URL"])
            .ToDictionary(static k => k, static _ => (string?)null);
        settings["ASPNETCORE_ENVIRONMENT"] = "Production";
        settings["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in environment)
        {
            settings[key] = value;
        }

        var run = await ExternalTool.RunAsync(
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [assembly, "--urls", "http://127.0.0.1:0"],
            environment: settings, workingDirectory: Path.GetDirectoryName(assembly)!, timeout: TimeSpan.FromSeconds(60));
        return new HostRun(run.ExitCode, run.StandardOutput, run.StandardError);
    }

    private sealed record HostRun(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
    }
}
