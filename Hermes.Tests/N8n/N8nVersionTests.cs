using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.N8n;

/// <summary>The real-n8n tests run the n8n version compose runs: one version in docker-compose.yml, the provisioning script and the tests.</summary>
public sealed partial class N8nVersionTests
{
    [Test]
    public void The_tests_provision_the_n8n_version_compose_pins()
    {
        var compose = RepositoryFiles.Read("docker-compose.yml");
        var script = RepositoryFiles.Read("Hermes.Tests", "N8n", "provision-n8n.sh");

        Assert.That(ComposeImage().Matches(compose).Select(static m => m.Groups[2].Value).Distinct(), Is.EqualTo(new[] { N8nInstallation.N8nVersion }),
            "n8nio/n8n and n8nio/runners in docker-compose.yml");
        Assert.That(script, Does.Contain($"\nN8N_VERSION={N8nInstallation.N8nVersion}\n"), "provision-n8n.sh N8N_VERSION");
        Assert.That(script, Does.Contain($"\nNODE_VERSION={N8nInstallation.NodeVersion}\n"), "provision-n8n.sh NODE_VERSION");
        Assert.That(N8nInstallation.NodeVersion, Does.StartWith("24."), "n8n 2.x runs on Node 24 (the n8nio/n8n image's Node)");
    }

    [GeneratedRegex(@"image: n8nio/(n8n|runners):(\S+)")]
    private static partial Regex ComposeImage();
}
