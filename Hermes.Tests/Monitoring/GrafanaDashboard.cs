using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.Monitoring;

/// <summary>One query of a dashboard panel, as Grafana sends it.</summary>
public sealed record PanelQuery(string Panel, string RefId, string Expr, bool Instant);

/// <summary>A template variable of the dashboard that Grafana fills from a query.</summary>
public sealed record VariableQuery(string Name, string Definition, bool IncludeAll);

/// <summary>The shipped Grafana dashboard, deploy/monitoring/grafana/dashboards/hermes.json, read as Grafana reads it.</summary>
public static partial class GrafanaDashboard
{
    public static string DashboardsDirectory => RepositoryFiles.PathOf("deploy", "monitoring", "grafana", "dashboards");

    public static string ProvisioningDirectory => RepositoryFiles.PathOf("deploy", "monitoring", "grafana", "provisioning");

    public static JsonObject Load() => JsonNode.Parse(File.ReadAllText(Path.Combine(DashboardsDirectory, "hermes.json")))!.AsObject();

    /// <summary>Every panel, those inside collapsed rows included.</summary>
    public static IEnumerable<JsonObject> Panels(JsonObject dashboard) =>
        dashboard["panels"]!.AsArray().Select(static p => p!.AsObject())
            .SelectMany(static p => p["panels"] is JsonArray nested ? [p, .. nested.Select(static n => n!.AsObject())] : new[] { p });

    /// <summary>Every PromQL query of every panel, variables not yet substituted.</summary>
    public static IReadOnlyList<PanelQuery> Queries(JsonObject dashboard) =>
        [.. Panels(dashboard)
            .Where(static p => p["type"]!.GetValue<string>() != "row")
            .SelectMany(static p => (p["targets"]?.AsArray() ?? []).Select(t => new PanelQuery(
                p["title"]!.GetValue<string>(),
                t!["refId"]!.GetValue<string>(),
                t["expr"]!.GetValue<string>(),
                t["instant"]?.GetValue<bool>() == true && t["range"]?.GetValue<bool>() != true)))];

    /// <summary>The variables Grafana fills from a Prometheus query (type <c>query</c>).</summary>
    public static IReadOnlyList<VariableQuery> Variables(JsonObject dashboard) =>
        [.. (dashboard["templating"]?["list"]?.AsArray() ?? [])
            .Where(static v => v!["type"]!.GetValue<string>() == "query")
            .Select(static v => new VariableQuery(
                v!["name"]!.GetValue<string>(),
                v["definition"]?.GetValue<string>() ?? v["query"]!["query"]!.GetValue<string>(),
                v["includeAll"]?.GetValue<bool>() == true))];

    /// <summary>
    /// <c>label_values(label)</c> or <c>label_values(selector, label)</c>: what Grafana's Prometheus variable query
    /// asks Prometheus (<c>/api/v1/label/&lt;label&gt;/values</c>, with the selector as <c>match[]</c>).
    /// </summary>
    public static (string? Match, string Label) ParseLabelValues(string definition)
    {
        var match = LabelValues().Match(definition.Trim());
        if (!match.Success)
        {
            throw new AssertionException($"The variable query `{definition}` is not label_values(...): the dashboard test does not know how Grafana evaluates it.");
        }

        return (match.Groups["match"].Success ? match.Groups["match"].Value.Trim() : null, match.Groups["label"].Value);
    }

    /// <summary>A multi-value selection as Grafana's Prometheus data source writes it into a regex matcher: (a|b), each value regex-escaped for a PromQL string.</summary>
    public static string RegexAlternation(IEnumerable<string> values) =>
        "(" + string.Join("|", values.Select(static v => RegexSpecial().Replace(v, static m => @"\\" + m.Value))) + ")";

    [GeneratedRegex(@"^label_values\((?:(?<match>.+),\s*)?(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\)$")]
    private static partial Regex LabelValues();

    [GeneratedRegex(@"[\\^$.|?*+()\[\]{}]")]
    private static partial Regex RegexSpecial();
}

/// <summary>
/// THE one place where the dashboard test gives Grafana's variables concrete values (docs/monitoring.md,
/// "Monitoring in compose and Kubernetes"). Grafana computes <c>$__interval</c> from the time range and the panel's width,
/// <c>$__rate_interval</c> as max(<c>$__interval</c> + scrape interval, 4 × scrape interval) and <c>$__range</c> from
/// the time range; the test's Prometheus scrapes every second and its traffic lasts a few seconds, so the test fixes:
/// <list type="bullet">
/// <item><c>$__interval</c> = the range query's step, 5 s;</item>
/// <item><c>$__rate_interval</c> = 1 m, wider than Grafana would pick for a 1-s scrape, so every point evaluated after
/// the traffic still sees it (a narrower window answers 0 or NaN, which says nothing about the expression);</item>
/// <item><c>$__range</c> = the evaluated time range (from before the traffic until now), in whole seconds;</item>
/// <item>template variables (<c>$worker</c>): every value their own query returned from that Prometheus, as Grafana's
/// "All" writes them (<see cref="GrafanaDashboard.RegexAlternation"/>).</item>
/// </list>
/// Any other <c>$name</c>, <c>${name}</c> or <c>[[name]]</c> in an expression fails the test, naming it, so a variable
/// added to the dashboard must be given a value here.
/// </summary>
public sealed partial class DashboardVariables
{
    public static readonly TimeSpan Step = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan RateInterval = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, string> _values;

    public DashboardVariables(TimeSpan range, IReadOnlyDictionary<string, string> templateVariables)
    {
        var seconds = (long)Math.Ceiling(range.TotalSeconds);
        _values = new Dictionary<string, string>(templateVariables, StringComparer.Ordinal)
        {
            ["__interval"] = Duration(Step),
            ["__interval_ms"] = ((long)Step.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            ["__rate_interval"] = Duration(RateInterval),
            ["__range"] = seconds.ToString(CultureInfo.InvariantCulture) + "s",
            ["__range_s"] = seconds.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary><paramref name="expr"/> with every variable replaced; fails on a variable without a value.</summary>
    public string Substitute(string expr, string where) => Variable().Replace(expr, m =>
    {
        var name = m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["old"].Success ? m.Groups["old"].Value : m.Groups["plain"].Value;
        return _values.TryGetValue(name, out var value)
            ? value
            : throw new AssertionException($"{where}: `{m.Value}` has no value in DashboardVariables (Hermes.Tests/Monitoring/GrafanaDashboard.cs); give it one there.");
    });

    private static string Duration(TimeSpan span) => ((long)span.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s";

    [GeneratedRegex(@"\$\{(?<braced>\w+)(?::\w+)?\}|\[\[(?<old>\w+)\]\]|\$(?<plain>\w+)")]
    private static partial Regex Variable();
}
