using System.Globalization;

namespace Hermes.Bench.Api;

/// <summary>
/// One scrape of the API's <c>/metrics</c> (Prometheus text): every sample by its series (name and labels), so that
/// two scrapes around a phase give what the phase added — the API's own view of where a request's time went.
/// </summary>
internal sealed class ApiMetrics(IReadOnlyDictionary<string, double> samples)
{
    private IReadOnlyDictionary<string, double> Samples { get; } = samples;

    public static readonly ApiMetrics Empty = new(new Dictionary<string, double>());

    public static async Task<ApiMetrics> ScrapeAsync(int port)
    {
        using var client = new HttpClient();
        return Parse(await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics")));
    }

    public static ApiMetrics Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            // name{labels} value [timestamp]: the labels may hold spaces, the value comes after the closing brace.
            var end = line.LastIndexOf('}');
            var rest = (end < 0 ? line : line[(end + 1)..]).Trim().Split(' ');
            var series = end < 0 ? line[..line.IndexOf(' ', StringComparison.Ordinal)] : line[..(end + 1)];
            if (double.TryParse(rest[end < 0 ? 1 : 0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                samples[series] = value;
            }
        }

        return new ApiMetrics(samples);
    }

    /// <summary>The sum of the samples of <paramref name="name"/> whose labels contain every one of <paramref name="labels"/>.</summary>
    public double Sum(string name, params string[] labels) =>
        Samples.Where(s => Named(s.Key, name) && labels.All(l => s.Key.Contains(l, StringComparison.Ordinal))).Sum(static s => s.Value);

    /// <summary>
    /// The upper bound of the bucket that holds quantile <paramref name="q"/> of histogram <paramref name="name"/>
    /// between <paramref name="before"/> and this scrape, in the histogram's unit; NaN without observations.
    /// </summary>
    public double Quantile(ApiMetrics before, string name, double q, params string[] labels)
    {
        var buckets = new SortedDictionary<double, double>();
        foreach (var (series, value) in Samples)
        {
            if (!Named(series, name + "_bucket") || !labels.All(l => series.Contains(l, StringComparison.Ordinal)))
            {
                continue;
            }

            var at = series.IndexOf("le=\"", StringComparison.Ordinal) + 4;
            var le = series[at..series.IndexOf('"', at)];
            var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
            buckets[bound] = buckets.GetValueOrDefault(bound) + value - before.Samples.GetValueOrDefault(series);
        }

        var total = buckets.GetValueOrDefault(double.PositiveInfinity);
        if (total <= 0)
        {
            return double.NaN;
        }

        return buckets.First(b => b.Value >= q * total).Key;
    }

    private static bool Named(string series, string name) =>
        series.StartsWith(name, StringComparison.Ordinal) && (series.Length == name.Length || series[name.Length] == '{');
}

/// <summary>
/// Where the API's time went in one phase: garbage collections and their pauses, the server's own p99 of a
/// submission (ASP.NET Core's request histogram, so what wrk adds beyond it is outside the API's handlers), and its
/// two parts on the way to the database: the wait in the group-commit queue and the transaction itself.
/// </summary>
internal sealed record ApiView(double Gen0, double Gen1, double Gen2, double PauseMs, double ServerP99Ms, double WaitP99Ms, double CommitP99Ms)
{
    public const string Header =
        "| connections | round | client | GCs gen0 / gen1 / gen2 | GC pause total ms (share of the phase) | server p99 ms (request) | queued for a transaction p99 ms | transaction p99 ms |\n" +
        "|---|---|---|---|---|---|---|---|";

    public static ApiView Between(ApiMetrics before, ApiMetrics after)
    {
        double Added(string name, params string[] labels) => after.Sum(name, labels) - before.Sum(name, labels);
        return new ApiView(
            Added("dotnet_gc_collections_total", "gen0"),
            Added("dotnet_gc_collections_total", "gen1"),
            Added("dotnet_gc_collections_total", "gen2"),
            1000 * Added("dotnet_gc_pause_time_seconds_total"),
            1000 * after.Quantile(before, "http_server_request_duration_seconds", 0.99, "http_route=\"/api/leads\""),
            1000 * after.Quantile(before, "hermes_leads_commit_wait_seconds", 0.99),
            1000 * after.Quantile(before, "hermes_leads_commit_duration_seconds", 0.99));
    }

    public string Row(PhaseResult phase) => string.Create(CultureInfo.InvariantCulture,
        $"| {phase.Concurrency} | {phase.Round} | {phase.Name} | {Gen0:F0} / {Gen1:F0} / {Gen2:F0} | {PauseMs:F0} ({PauseMs / 10 / Math.Max(1, phase.Seconds):F1} %) | ≤ {ServerP99Ms:G4} | ≤ {WaitP99Ms:G4} | ≤ {CommitP99Ms:G4} |");
}
