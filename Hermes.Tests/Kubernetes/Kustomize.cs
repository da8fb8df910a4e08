using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Hermes.Tests.Kubernetes;

/// <summary>
/// deploy/k8s rendered as an operator would apply it: <c>kubectl kustomize deploy/k8s/overlays/&lt;overlay&gt;</c>
/// (the Kustomize built into kubectl, v2.0.3 in Debian's kubectl 1.20 and newer elsewhere), its YAML read by YamlDotNet.
/// </summary>
public static partial class Kustomize
{
    private static readonly Dictionary<string, Lazy<Task<IReadOnlyList<JsonObject>>>> Rendered = Overlays.ToDictionary(
        static o => o, static o => new Lazy<Task<IReadOnlyList<JsonObject>>>(() => RenderAsync(RepositoryFiles.PathOf("deploy", "k8s", "overlays", o))));

    /// <summary>Every overlay under deploy/k8s/overlays.</summary>
    public static IEnumerable<string> Overlays =>
        Directory.GetDirectories(RepositoryFiles.PathOf("deploy", "k8s", "overlays")).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    /// <summary>The objects <paramref name="overlay"/> renders (rendered once per test run; callers must not change them).</summary>
    public static Task<IReadOnlyList<JsonObject>> ObjectsAsync(string overlay) => Rendered[overlay].Value;

    /// <summary>A copy of the objects, for tests that change them.</summary>
    public static async Task<List<JsonObject>> CopyAsync(string overlay) =>
        (await ObjectsAsync(overlay)).Select(static o => o.DeepClone().AsObject()).ToList();

    /// <summary>Runs <c>kubectl kustomize</c> on <paramref name="directory"/> and reads what it prints.</summary>
    public static async Task<IReadOnlyList<JsonObject>> RenderAsync(string directory)
    {
        var kubectl = ExternalTool.Require("kubectl", "kubectl renders the overlays (`kubectl kustomize`): apt-get install kubernetes-client.");
        var result = await ExternalTool.RunAsync(kubectl, ["kustomize", directory]);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        var objects = ParseYaml(result.StandardOutput);
        Assert.That(objects, Is.Not.Empty, directory);
        return objects;
    }

    /// <summary>Every document of a YAML stream as JSON, scalars typed as Kubernetes' YAML reader types them.</summary>
    public static List<JsonObject> ParseYaml(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents
            .Where(static d => d.RootNode is YamlMappingNode)
            .Select(static d => ToJson(d.RootNode)!.AsObject())
            .ToList();
    }

    /// <summary>The first (or only) document of a YAML file as JSON.</summary>
    public static JsonNode? ReadYamlFile(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return ToJson(stream.Documents[0].RootNode);
    }

    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(static c =>
            KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException($"YAML node {node.NodeType} at {node.Start}"),
    };

    // YAML 1.2's core schema for plain scalars (what sigs.k8s.io/yaml resolves too for what kubectl prints); a quoted
    // or block scalar is a string.
    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain)
        {
            return JsonValue.Create(value);
        }

        if (value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (value is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }

        if (value is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }

        // A number as JSON reads it, so that GetValue<int>, <long> and <double> all work on it.
        if (Integer().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonNode.Parse(integer.ToString(CultureInfo.InvariantCulture));
        }

        if (Float().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            return JsonNode.Parse(number.ToString("R", CultureInfo.InvariantCulture));
        }

        return JsonValue.Create(value);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();

    public static string KindOf(JsonObject o) => o["kind"]!.GetValue<string>();

    public static string NameOf(JsonObject o) => o["metadata"]!["name"]!.GetValue<string>();

    public static string Describe(JsonObject o) => $"{KindOf(o)}/{NameOf(o)}";

    public static JsonObject Single(IEnumerable<JsonObject> objects, string kind, string name) =>
        objects.SingleOrDefault(o => KindOf(o) == kind && NameOf(o) == name)
        ?? throw new AssertionException($"No {kind} {name} among the rendered objects.");

    /// <summary>The pod template of a Deployment, Job or CronJob.</summary>
    public static JsonObject PodTemplate(JsonObject workload) => KindOf(workload) == "CronJob"
        ? workload["spec"]!["jobTemplate"]!["spec"]!["template"]!.AsObject()
        : workload["spec"]!["template"]!.AsObject();
}
