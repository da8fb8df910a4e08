using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;
using Microsoft.Extensions.Configuration.UserSecrets;

namespace Hermes.Tests.LocalRun;

/// <summary>
/// <c>dotnet run</c> and IDEs start each host as <c>./run.sh</c> does (its launch profile: Development, run.sh's
/// address), and every Hermes program reads the one Development user-secrets store (docs/development.md).
/// </summary>
public sealed partial class LaunchSettingsTests
{
    [TestCase("Hermes.Api", "HERMES_API_URL")]
    [TestCase("Hermes.Outbox.Worker", "HERMES_WORKER_URL")]
    [TestCase("Hermes.Admin", "HERMES_ADMIN_URL")]
    public void Each_host_has_a_launch_profile_as_run_sh_starts_it(string project, string runScriptSetting)
    {
        var runScript = RepositoryFiles.Read("run.sh");
        var address = RunScriptDefault().Matches(runScript).Single(m => m.Groups["key"].Value == runScriptSetting).Groups["url"].Value;
        using var launch = JsonDocument.Parse(RepositoryFiles.Read(project, "Properties", "launchSettings.json"));

        var profile = launch.RootElement.GetProperty("profiles").GetProperty(project);

        Assert.Multiple(() =>
        {
            Assert.That(profile.GetProperty("commandName").GetString(), Is.EqualTo("Project"));
            Assert.That(profile.GetProperty("applicationUrl").GetString(), Is.EqualTo(address), "run.sh's default address");
            Assert.That(profile.GetProperty("environmentVariables").GetProperty("ASPNETCORE_ENVIRONMENT").GetString(), Is.EqualTo("Development"));
        });
    }

    [Test]
    public void Every_program_reads_the_one_development_user_secrets_store()
    {
        Assembly[] programs = [typeof(Program).Assembly, typeof(Hermes.Admin.AdminProgram).Assembly, typeof(Hermes.Outbox.Worker.WorkerHost).Assembly, typeof(Hermes.Cli.OperatorCli).Assembly];

        Assert.That(programs.Select(static p => p.GetCustomAttribute<UserSecretsIdAttribute>()?.UserSecretsId), Is.All.EqualTo("hermes-development"));
        Assert.That(RepositoryFiles.Read("docs/development.md"), Does.Contain("dotnet user-secrets set DATABASE_URL").And.Contain("--id hermes-development"));
    }

    [GeneratedRegex(@"^(?<var>\w+)=\$\{(?<key>HERMES_\w+_URL):-(?<url>[^}]+)\}", RegexOptions.Multiline)]
    private static partial Regex RunScriptDefault();
}
