using System.Text.Json.Nodes;
using Hermes.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace Hermes.Tests.Deploy;

/// <summary>
/// Every placeholder the shipped templates carry (<c>.env.example</c>, the Kubernetes secret template) is refused
/// by <see cref="ProductionGuard"/> in Production, and nothing else in them is. What counts as a placeholder is
/// taken from the templates themselves, not from the guard: in <c>.env.example</c>, what deploy/generate-env.sh
/// replaces plus what it says is left to fill in by hand; in the secret template, every value ("Placeholders only").
/// </summary>
public sealed class TemplatePlaceholderTests
{
    [Test]
    public async Task Production_refuses_every_placeholder_of_the_example_env_and_nothing_else_in_it()
    {
        var bash = ExternalTool.Require("bash", "bash runs deploy/generate-env.sh.");
        var folder = Directory.CreateTempSubdirectory("hermes-env-");
        try
        {
            var generated = Path.Combine(folder.FullName, ".env");
            var run = await ExternalTool.RunAsync(bash, [RepositoryFiles.PathOf("deploy", "generate-env.sh"), generated]);
            Assert.That(run.ExitCode, Is.Zero, run.Describe());

            var example = ReadEnv(RepositoryFiles.PathOf(".env.example"));
            var filled = ReadEnv(generated);
            var byHand = run.StandardError.Split('\n').Where(static l => l.StartsWith("  ", StringComparison.Ordinal)).Select(static l => l.Trim()).ToHashSet();
            var placeholders = example.Keys.Where(k => example[k] != filled[k] || byHand.Contains(k)).ToHashSet();
            Assert.That(placeholders, Does.Contain("POSTGRES_PASSWORD").And.Contain("BREVO_API_KEY"), "the ground truth itself is found");

            var refused = Refused(example);
            Assert.That(refused, Is.EquivalentTo(placeholders));
            Assert.That(Refused(filled), Is.EquivalentTo(byHand), "after generate-env.sh only what it names is still refused");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Test]
    public async Task Production_refuses_every_value_of_the_kubernetes_secret_template_and_nothing_in_the_config_map()
    {
        var secret = (await KubectlAsync(RepositoryFiles.PathOf("deploy", "k8s", "secret", "secret.example.yaml"))).Single()["stringData"]!.AsObject();
        var config = (await KubectlAsync(RepositoryFiles.PathOf("deploy", "k8s", "base", "config.yaml"))).Single()["data"]!.AsObject();
        var secretValues = secret.ToDictionary(static p => p.Key, static p => p.Value!.GetValue<string>());
        var configValues = config.ToDictionary(static p => p.Key, static p => p.Value!.GetValue<string>());

        Assert.That(secretValues, Is.Not.Empty);
        Assert.That(Refused(secretValues), Is.EquivalentTo(secretValues.Keys));
        Assert.That(Refused(configValues), Is.Empty);
    }

    [Test]
    public void A_placeholder_inside_a_value_is_refused_without_echoing_the_value()
    {
        var problems = ProductionGuard.Check(Config(new() { ["DATABASE_URL"] = "postgres://hermes_api_login:REPLACE_ME@db.example.com:5432/hermes" }), new Production());

        Assert.That(problems, Has.Count.EqualTo(1));
        Assert.That(problems[0], Does.StartWith("DATABASE_URL ").And.Not.Contain("db.example.com"));
    }

    /// <summary>The keys (as the template spells them) the guard names in Production.</summary>
    private static List<string> Refused(Dictionary<string, string> values)
    {
        var problems = ProductionGuard.Check(Config(values), new Production());
        return values.Keys.Where(k => problems.Any(p => p.StartsWith(ConfigurationKey(k) + " ", StringComparison.Ordinal))).ToList();
    }

    // As the environment-variable provider reads them: __ separates sections.
    private static string ConfigurationKey(string variable) => variable.Replace("__", ":", StringComparison.Ordinal);

    private static IConfiguration Config(Dictionary<string, string> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(static v => new KeyValuePair<string, string?>(ConfigurationKey(v.Key), v.Value))).Build();

    private static Dictionary<string, string> ReadEnv(string path) =>
        File.ReadAllLines(path)
            .Where(static l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .ToDictionary(static l => l[..l.IndexOf('=', StringComparison.Ordinal)], static l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

    private static async Task<List<JsonObject>> KubectlAsync(string file)
    {
        var kubectl = ExternalTool.Require("kubectl", "kubectl (client only) parses the manifests: https://kubernetes.io/docs/tasks/tools/");
        var result = await ExternalTool.RunAsync(kubectl, ["annotate", "--local", "-f", file, "-o", "json", "hermes.test/parsed=yes"]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        return [JsonNode.Parse(result.StandardOutput)!.AsObject()];
    }

    private sealed class Production : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = Microsoft.Extensions.Hosting.Environments.Production;
        public string ApplicationName { get; set; } = "hermes-test";
        public string ContentRootPath { get; set; } = "/";
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
