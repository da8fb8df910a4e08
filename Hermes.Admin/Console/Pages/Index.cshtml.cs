using Hermes.Persistence.Hosting;
using Hermes.Persistence.Operations;
using Hermes.ServiceDefaults;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hermes.Admin.OperatorConsole.Pages;

/// <summary>
/// The overview: database health (the probe behind <c>/api/health/database</c>), outbox counts (the statistics of the
/// CLI's <c>stats</c> and <c>GET /api/admin/outbox/stats</c>), and delivery activity (<c>GET /api/admin/activity</c>).
/// </summary>
public sealed class IndexModel(DatabaseProbe probe, OutboxStatistics statistics, DeliveryActivity activity) : PageModel
{
    public DatabaseProbeResult Database { get; private set; } = null!;

    public OutboxStats? Stats { get; private set; }

    public ActivityReport? Activity { get; private set; }

    public DeliveryChart? Chart { get; private set; }

    public DateTimeOffset Now => Stats?.At ?? DateTimeOffset.UtcNow;

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Database = await probe.ProbeAsync(cancellationToken);
        if (!Database.Reachable)
        {
            Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        Stats = await statistics.ReadAsync(cancellationToken);
        Activity = await activity.ReadAsync(cancellationToken);
        Chart = DeliveryChart.From(Activity.Hours);
    }

    /// <summary>What the attempt log says about the workers: claiming, or rows waiting that nobody takes.</summary>
    public (string Class, string Text) WorkerState => Activity switch
    {
        null => ("status-problem", "unknown"),
        { OverduePending: > 0 } a => ("status-problem",
            $"{ConsoleFormat.Count(a.OverduePending)} pending row(s) overdue by over {OperatorTime.Format(DeliveryActivity.OverdueAfter)}: is a worker running, or is every worker's circuit to n8n open?"),
        { ActiveWorkers: > 0 } a => ("status-ok", $"{a.ActiveWorkers} worker(s) made attempts in the last {OperatorTime.Format(DeliveryActivity.ActiveWindow)}; nothing is overdue"),
        _ => ("status-ok", "nothing is overdue (no attempts in the last 15m)"),
    };

    /// <summary>What the last answer says about n8n.</summary>
    public (string Class, string Text) N8nState => Activity?.LastAttempt switch
    {
        null => ("status-pending", "no delivery attempt yet"),
        { Outcome: "delivered" } last => ("status-ok", $"last attempt delivered (HTTP {last.StatusCode}) {ConsoleFormat.Age(last.StartedAt, Now)} ago"),
        { } last => ("status-problem", $"last attempt {last.Outcome} ({(last.StatusCode is { } code ? $"HTTP {code}" : "no answer")}) {ConsoleFormat.Age(last.StartedAt, Now)} ago"),
    };
}
