using System.Globalization;
using Hermes.Tests.Monitoring;

namespace Hermes.Bench.Api;

/// <summary>
/// Where the API's time went in one phase, from two scrapes of its <c>/metrics</c> around it: garbage collections and
/// their pauses, the server's own p99 of a submission (ASP.NET Core's request histogram, so what wrk adds beyond it is
/// outside the API's handlers), and its two parts on the way to the database: the wait in the group-commit queue and
/// the transaction itself.
/// </summary>
internal sealed record ApiView(double Gen0, double Gen1, double Gen2, double PauseMs, double ServerP99Ms, double WaitP99Ms, double CommitP99Ms)
{
    public const string Header =
        "| connections | round | client | GCs gen0 / gen1 / gen2 | GC pause total ms (share of the phase) | server p99 ms (request) | queued for a transaction p99 ms | transaction p99 ms |\n" +
        "|---|---|---|---|---|---|---|---|";

    /// <summary>A scrape taken before there is an API to scrape (a pgbench phase): no samples.</summary>
    public static readonly Exposition Nothing = Exposition.Parse("");

    public static async Task<Exposition> ScrapeAsync(int port)
    {
        using var client = new HttpClient();
        return Exposition.Parse(await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics")));
    }

    /// <summary>What the samples of <paramref name="name"/> with these labels added between the two scrapes.</summary>
    public static double Added(Exposition before, Exposition after, string name, params (string Key, string Value)[] labels) =>
        (after.Value(name, labels) ?? 0) - (before.Value(name, labels) ?? 0);

    public static ApiView Between(Exposition before, Exposition after)
    {
        double Collections(string generation) => Added(before, after, "dotnet_gc_collections_total", ("gc_heap_generation", generation));
        return new ApiView(
            Collections("gen0"),
            Collections("gen1"),
            Collections("gen2"),
            1000 * Added(before, after, "dotnet_gc_pause_time_seconds_total"),
            1000 * Quantile(before, after, "http_server_request_duration_seconds", 0.99, ("http_route", "/api/leads")),
            1000 * Quantile(before, after, "hermes_leads_commit_wait_seconds", 0.99),
            1000 * Quantile(before, after, "hermes_leads_commit_duration_seconds", 0.99));
    }

    /// <summary>
    /// The upper bound of the bucket that holds quantile <paramref name="q"/> of histogram <paramref name="name"/>
    /// between the two scrapes, in the histogram's unit; NaN without observations.
    /// </summary>
    private static double Quantile(Exposition before, Exposition after, string name, double q, params (string Key, string Value)[] labels)
    {
        var buckets = new SortedDictionary<double, double>();
        foreach (var le in after.Series(name + "_bucket").Select(static s => s.Labels["le"]).Distinct())
        {
            var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
            buckets[bound] = Added(before, after, name + "_bucket", [.. labels, ("le", le)]);
        }

        var total = buckets.GetValueOrDefault(double.PositiveInfinity);
        return total <= 0 ? double.NaN : buckets.First(b => b.Value >= q * total).Key;
    }

    public string Row(PhaseResult phase) => string.Create(CultureInfo.InvariantCulture,
        $"| {phase.Concurrency} | {phase.Round} | {phase.Name} | {Gen0:F0} / {Gen1:F0} / {Gen2:F0} | {PauseMs:F0} ({PauseMs / 10 / Math.Max(1, phase.Seconds):F1} %) | ≤ {ServerP99Ms:G4} | ≤ {WaitP99Ms:G4} | ≤ {CommitP99Ms:G4} |");
}
