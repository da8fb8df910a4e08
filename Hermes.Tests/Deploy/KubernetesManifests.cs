using System.Text.Json.Nodes;
using Hermes.Tests.Kubernetes;

namespace Hermes.Tests.Deploy;

/// <summary>
/// deploy/k8s as an operator applies it: the production overlay rendered by <c>kubectl kustomize</c>
/// (<see cref="Kustomize"/>), plus the Secret templates of deploy/k8s/secret, which are applied by hand and never by
/// the overlay.
/// </summary>
public static class KubernetesManifests
{
    /// <summary>The objects of the production overlay and the Secret templates (copies: callers may change them).</summary>
    public static async Task<List<JsonObject>> LoadAsync()
    {
        var objects = await Kustomize.CopyAsync("production");
        objects.AddRange(SecretTemplates());
        return objects;
    }

    /// <summary>The Secret templates under deploy/k8s/secret.</summary>
    public static IEnumerable<JsonObject> SecretTemplates() =>
        Directory.GetFiles(RepositoryFiles.PathOf("deploy", "k8s", "secret"), "*.yaml").Order(StringComparer.Ordinal)
            .SelectMany(static f => Kustomize.ParseYaml(File.ReadAllText(f)));
}
