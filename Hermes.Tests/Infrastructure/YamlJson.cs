using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// YAML as <see cref="JsonNode"/>, so tests assert on compose, Kubernetes and monitoring files the way they assert on
/// JSON. Anchors, aliases and merge keys (<c>&lt;&lt;: *anchor</c>) are resolved. Plain scalars are typed by the
/// YAML 1.1 rules that docker-compose v1 (PyYAML) and Prometheus (Go yaml) apply: <c>null</c>/<c>~</c>/empty,
/// <c>true</c>/<c>yes</c>/<c>on</c> and their negatives, integers, floats; every quoted scalar is a string.
/// </summary>
public static partial class YamlJson
{
    /// <summary>The first document of <paramref name="yaml"/>; an empty text is an empty object.</summary>
    public static JsonObject Parse(string yaml)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(yaml))
        {
            stream.Load(reader);
        }

        if (stream.Documents.Count == 0 || ToJson(stream.Documents[0].RootNode) is not { } root)
        {
            return [];
        }

        // Parsed back from text, so numbers read like those of any parsed JSON (GetValue<int> of a long, and so on).
        return JsonNode.Parse(root.ToJsonString())!.AsObject();
    }

    /// <summary>The first document of the YAML file at <paramref name="path"/>.</summary>
    public static JsonObject Read(string path) => Parse(File.ReadAllText(path));

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => Mapping(mapping),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(ToJson)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException($"YAML node {node.NodeType} at {node.Start}"),
    };

    /// <summary>A mapping; the keys of a merge (<c>&lt;&lt;</c>) come first, the first source wins, and the mapping's own keys win over them.</summary>
    private static JsonObject Mapping(YamlMappingNode mapping)
    {
        var result = new JsonObject();
        var own = mapping.Children.Where(static pair => !IsMerge(pair.Key)).ToList();
        var merged = mapping.Children.Where(static pair => IsMerge(pair.Key))
            .SelectMany(static pair => pair.Value is YamlSequenceNode sources ? sources.Children : [pair.Value]);
        foreach (var source in merged)
        {
            foreach (var (key, value) in Mapping((YamlMappingNode)source))
            {
                if (!result.ContainsKey(key) && !own.Any(pair => Key(pair.Key) == key))
                {
                    result[key] = value?.DeepClone();
                }
            }
        }

        foreach (var (key, value) in own)
        {
            result[Key(key)] = ToJson(value);
        }

        return result;
    }

    private static bool IsMerge(YamlNode key) => key is YamlScalarNode { Value: "<<", Style: ScalarStyle.Plain };

    private static string Key(YamlNode key) => ((YamlScalarNode)key).Value ?? "";

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain || scalar.Tag is { IsEmpty: false, IsNonSpecific: false, Value: "tag:yaml.org,2002:str" })
        {
            return JsonValue.Create(text);
        }

        if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (Boolean().IsMatch(text))
        {
            return JsonValue.Create(text[0] is 'y' or 'Y' or 't' or 'T' || text is "on" or "On" or "ON");
        }

        var digits = text.Replace("_", "", StringComparison.Ordinal);
        if (Integer().IsMatch(text))
        {
            return JsonValue.Create(long.Parse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        }

        if (Hexadecimal().IsMatch(text))
        {
            return JsonValue.Create(long.Parse(digits[(digits.IndexOf('x', StringComparison.Ordinal) + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) * (digits[0] == '-' ? -1 : 1));
        }

        if (Float().IsMatch(text))
        {
            return JsonValue.Create(double.Parse(digits, NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        return JsonValue.Create(text);
    }

    [GeneratedRegex("^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")]
    private static partial Regex Boolean();

    [GeneratedRegex("^[-+]?(0|[1-9][0-9_]*)$")]
    private static partial Regex Integer();

    [GeneratedRegex("^[-+]?0x[0-9a-fA-F_]+$")]
    private static partial Regex Hexadecimal();

    [GeneratedRegex(@"^[-+]?([0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)([eE][-+][0-9]+)?$")]
    private static partial Regex Float();
}
