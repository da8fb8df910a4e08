using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hermes.Tests.Deploy;

/// <summary>
/// deploy/k8s read by kubectl itself, offline: `kubectl annotate --local` reads and re-emits the objects without a
/// cluster, so what the tests see is what kubectl would send.
/// </summary>
public static class KubernetesManifests
{
    /// <summary>The objects under deploy/k8s (or only its top folder), as kubectl parsed them.</summary>
    public static async Task<List<JsonObject>> LoadAsync(bool recursive = true)
    {
        var kubectl = ExternalTool.Require("kubectl", "kubectl (client only) parses the manifests: https://kubernetes.io/docs/tasks/tools/");
        List<string> arguments = ["annotate", "--local", "-f", RepositoryFiles.PathOf("deploy", "k8s"), "-o", "json", "hermes.test/parsed=yes"];
        if (recursive)
        {
            arguments.Insert(2, "--recursive");
        }

        var result = await ExternalTool.RunAsync(kubectl, arguments);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());

        // kubectl prints one JSON object per document, one after the other.
        var objects = new List<JsonObject>();
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(result.StandardOutput), new JsonReaderOptions { AllowMultipleValues = true });
        while (reader.Read())
        {
            objects.Add(JsonNode.Parse(ref reader)!.AsObject());
        }

        return objects;
    }
}
