using System.Text.Json;
using Hermes.Domain;
using Hermes.ServiceDefaults;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Operations;

/// <summary>The verbs through the real <c>hermes</c> executable, as an operator runs them: arguments, environment, exit code.</summary>
public sealed class CliExecutableTests : OperationsTest
{
    [TestCase("--help")]
    [TestCase("help")]
    public async Task Help_lists_every_verb(string help)
    {
        var run = await RunAsync([], help);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("migrate").And.Contain("replay").And.Contain("purge").And.Contain("doctor")
            .And.Contain("erase").And.Contain("seed").And.Contain("stats").And.Contain("local-postgres"));
    }

    [Test]
    public async Task Version_prints_the_version_MinVer_took_from_the_git_history()
    {
        var run = await RunAsync([], "--version");
        var expected = HermesTelemetryExtensions.VersionOf(typeof(CliExecutableTests).Assembly);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(expected, Does.Match(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$").And.Not.EqualTo("1.0.0"), "MinVer stamped this build");
        Assert.That(run.Output.Trim().Split('+')[0], Is.EqualTo(expected), "the same version as every assembly of this build, and as service.version");
    }

    [Test]
    public async Task The_executable_runs_a_verb_with_the_database_from_the_environment()
    {
        var lead = await AddLeadAsync(OutboxStatus.Failed);

        var stats = await RunAsync(new() { ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString) }, "stats", "--json");
        var replay = await RunAsync(new() { ["ConnectionStrings__Hermes"] = ConnectionString }, "replay", "--yes", "--lead", lead.LeadId);

        Assert.That(stats.ExitCode, Is.Zero, stats.ToString());
        Assert.That(JsonDocument.Parse(stats.Output).RootElement.GetProperty("counts").GetProperty("failed").GetInt64(), Is.EqualTo(1));
        Assert.That(replay.ExitCode, Is.Zero, replay.ToString());
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("pending"));
    }

    [Test]
    public async Task The_executable_exits_one_on_a_refusal_and_78_without_a_database()
    {
        var refused = await RunAsync(new() { ["ConnectionStrings__Hermes"] = ConnectionString }, "erase", "--lead", "lead_nobody");
        var unconfigured = await RunAsync([], "doctor");

        Assert.That(refused.ExitCode, Is.EqualTo(1), refused.ToString());
        Assert.That(refused.Error, Does.Contain("Refused"));
        Assert.That(unconfigured.ExitCode, Is.EqualTo(78), unconfigured.ToString());
        Assert.That(unconfigured.Error.Trim(), Does.StartWith("No database is configured: set DATABASE_URL").And.Not.Contain("Exception").And.Not.Contain("\n"), "the message alone, no stack trace");
    }

    private static async Task<CliRun> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        var hermes = Path.Combine(AppContext.BaseDirectory, "hermes.dll");
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = null,
            ["ConnectionStrings__Hermes"] = null,
            ["DATABASE_DIRECT_URL"] = null,
            ["POSTGRES_URL_NON_POOLING"] = null,
        };
        foreach (var (key, value) in environment)
        {
            settings[key] = value;
        }

        var run = await ExternalTool.RunAsync(
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [hermes, .. args],
            environment: settings, workingDirectory: AppContext.BaseDirectory, timeout: TimeSpan.FromSeconds(60));
        return new CliRun(run.ExitCode, run.StandardOutput, run.StandardError);
    }
}
