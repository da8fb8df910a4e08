using System.Text.Json;

namespace Hermes.Tests.Infrastructure;

/// <summary>Reading a plan of <c>EXPLAIN (FORMAT JSON)</c>.</summary>
public static class QueryPlan
{
    /// <summary><paramref name="node"/> and every node below it, parents first.</summary>
    public static IEnumerable<JsonElement> Nodes(JsonElement node) =>
        node.TryGetProperty("Plans", out var children) ? children.EnumerateArray().SelectMany(Nodes).Prepend(node) : [node];
}
