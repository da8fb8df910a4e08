using System.Text.Json.Nodes;

namespace Hermes.Tests.Deploy;

/// <summary>Reads what `docker-compose config` prints (YAML only, in v1) as JSON.</summary>
public static class ComposeYaml
{
    /// <summary>Parses <paramref name="yaml"/> with the PyYAML of docker-compose's own Python (a dependency of the package).</summary>
    public static async Task<JsonObject> ToJsonAsync(string dockerCompose, string yaml)
    {
        var firstLine = File.ReadLines(dockerCompose).FirstOrDefault() ?? "";
        var python = firstLine.StartsWith("#!", StringComparison.Ordinal) && firstLine.Contains("python", StringComparison.Ordinal)
            ? firstLine[2..].Trim().Split(' ')[0]
            : ExternalTool.Require("python3", "python3 with PyYAML reads docker-compose's output.");
        var json = await ExternalTool.RunAsync(python, ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], yaml);
        Assert.That(json.ExitCode, Is.Zero, json.Describe());
        return JsonNode.Parse(json.StandardOutput)!.AsObject();
    }
}
