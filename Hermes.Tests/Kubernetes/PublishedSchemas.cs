using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Tests.Deploy;
using Json.Schema;

namespace Hermes.Tests.Kubernetes;

/// <summary>
/// The published schemas of every kind deploy/k8s renders (Hermes.Tests/Kubernetes/Schemas, README.md there): the
/// Kubernetes OpenAPI as strict JSON Schema for the built-in kinds, the CRDs' <c>openAPIV3Schema</c> for KEDA,
/// CloudNativePG and the Prometheus Operator, read as the API server reads a structural schema (unknown fields fail).
/// </summary>
public static class PublishedSchemas
{
    private static readonly Lazy<Dictionary<string, JsonSchema>> Schemas = new(Load);

    private static string Folder => RepositoryFiles.PathOf("Hermes.Tests", "Kubernetes", "Schemas");

    /// <summary>apiVersion/kind of every schema there is, e.g. "apps/v1/Deployment".</summary>
    public static IReadOnlyCollection<string> Kinds => Schemas.Value.Keys;

    /// <summary>The problems the schema of <paramref name="o"/>'s kind finds in it; empty when it is valid.</summary>
    public static List<string> Validate(JsonObject o)
    {
        var key = $"{o["apiVersion"]?.GetValue<string>()}/{o["kind"]?.GetValue<string>()}";
        if (!Schemas.Value.TryGetValue(key, out var schema))
        {
            return [$"no published schema for {key}"];
        }

        var results = schema.Evaluate(JsonSerializer.SerializeToElement(o), new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid)
        {
            return [];
        }

        var problems = (results.Details ?? [])
            .Where(static d => !d.IsValid && d.Errors is { Count: > 0 })
            .SelectMany(static d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value} (schema {d.SchemaLocation})"))
            .Distinct()
            .ToList();
        return problems.Count > 0 ? problems : [$"{key} is invalid (no detail given)"];
    }

    private static Dictionary<string, JsonSchema> Load()
    {
        var schemas = new Dictionary<string, JsonSchema>(StringComparer.Ordinal);
        JsonNode? objectMeta = null;

        foreach (var file in Directory.GetFiles(Path.Combine(Folder, "kubernetes"), "*.json").Order(StringComparer.Ordinal))
        {
            var schema = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            var gvk = schema["x-kubernetes-group-version-kind"]!.AsArray().Single()!;
            var group = gvk["group"]!.GetValue<string>();
            var apiVersion = group.Length == 0 ? gvk["version"]!.GetValue<string>() : $"{group}/{gvk["version"]!.GetValue<string>()}";
            objectMeta ??= schema["properties"]!["metadata"]!.DeepClone();
            Add(schemas, $"{apiVersion}/{gvk["kind"]!.GetValue<string>()}", Normalise(schema));
        }

        foreach (var file in Directory.GetFiles(Path.Combine(Folder, "crds"), "*.yaml").Order(StringComparer.Ordinal))
        {
            var crd = Kustomize.ReadYamlFile(file)!;
            var group = crd["spec"]!["group"]!.GetValue<string>();
            var kind = crd["spec"]!["names"]!["kind"]!.GetValue<string>();
            foreach (var version in crd["spec"]!["versions"]!.AsArray())
            {
                var schema = version!["schema"]!["openAPIV3Schema"]!.DeepClone().AsObject();
                var properties = schema["properties"]!.AsObject();
                // A CRD says only "metadata: object"; the API server checks it as ObjectMeta, as for any kind.
                properties["metadata"] = objectMeta!.DeepClone();
                // Status is the controller's, never written in a manifest.
                properties.Remove("status");
                Add(schemas, $"{group}/{version["name"]!.GetValue<string>()}/{kind}", Normalise(Structural(schema)));
            }
        }

        return schemas;
    }

    private static void Add(Dictionary<string, JsonSchema> schemas, string key, JsonObject schema)
    {
        var options = new BuildOptions { SchemaRegistry = new SchemaRegistry(), Dialect = Dialect.Draft202012 };
        schemas[key] = JsonSchema.Build(JsonSerializer.SerializeToElement(schema), options, new Uri($"https://schemas.hermes.test/{key}"));
    }

    // Applies to both kinds of files: no draft-04 "$schema" (the evaluator reads the keywords in 2020-12), and no
    // "format" (int32, int64, date-time...: annotations only, as the API server treats most of them).
    private static JsonObject Normalise(JsonObject schema)
    {
        Visit(schema, static node =>
        {
            node.Remove("$schema");
            node.Remove("format");
        });
        return schema;
    }

    /// <summary>
    /// A CRD's structural schema as the API server applies it: an object schema that names its properties, without
    /// additionalProperties or x-kubernetes-preserve-unknown-fields, admits no other field (the server prunes or, with
    /// strict field validation, rejects it); x-kubernetes-int-or-string admits an integer or a string; nullable admits null.
    /// </summary>
    public static JsonObject Structural(JsonObject schema)
    {
        Visit(schema, static node =>
        {
            var preserve = node["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true;
            if (node["properties"] is JsonObject && node["additionalProperties"] is null && !preserve)
            {
                node["additionalProperties"] = false;
            }

            if (node["x-kubernetes-int-or-string"]?.GetValue<bool>() == true)
            {
                node.Remove("type");
                node["anyOf"] ??= new JsonArray(new JsonObject { ["type"] = "integer" }, new JsonObject { ["type"] = "string" });
            }

            if (node["nullable"]?.GetValue<bool>() == true && node["type"] is JsonValue type)
            {
                node["type"] = new JsonArray(type.GetValue<string>(), "null");
            }
        });
        return schema;
    }

    /// <summary>Calls <paramref name="action"/> on every (sub)schema, following the keywords that hold schemas.</summary>
    private static void Visit(JsonObject schema, Action<JsonObject> action)
    {
        action(schema);
        foreach (var keyword in new[] { "properties", "patternProperties", "definitions", "$defs" })
        {
            if (schema[keyword] is JsonObject map)
            {
                foreach (var (_, child) in map)
                {
                    if (child is JsonObject sub)
                    {
                        Visit(sub, action);
                    }
                }
            }
        }

        foreach (var keyword in new[] { "items", "additionalProperties", "not", "additionalItems" })
        {
            if (schema[keyword] is JsonObject sub)
            {
                Visit(sub, action);
            }
        }

        foreach (var keyword in new[] { "allOf", "anyOf", "oneOf", "items" })
        {
            if (schema[keyword] is JsonArray list)
            {
                foreach (var child in list)
                {
                    if (child is JsonObject sub)
                    {
                        Visit(sub, action);
                    }
                }
            }
        }
    }
}
