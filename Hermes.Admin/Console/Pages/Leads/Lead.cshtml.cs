using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hermes.Admin.OperatorConsole.Pages.Leads;

/// <summary>One lead: what <c>GET /api/leads/{leadId}</c> answers (the same <see cref="LeadHistory"/>), as a page with a timeline of its delivery attempts.</summary>
public sealed class LeadModel(LeadHistory history) : PageModel
{
    public LeadDetails? Lead { get; private set; }

    public string LeadId { get; private set; } = "";

    public async Task OnGetAsync(string leadId, CancellationToken cancellationToken)
    {
        LeadId = leadId;
        Lead = await history.FindAsync(leadId, cancellationToken);
        if (Lead is null)
        {
            Response.StatusCode = StatusCodes.Status404NotFound;
        }
    }

    /// <summary>The outbox status a replay of this lead would start from (failed first), or null when nothing is replayable.</summary>
    public string? ReplayableStatus =>
        Lead is null || Lead.ErasedAt is not null ? null
        : ReplayRequest.ReplayableStatuses.FirstOrDefault(status => Lead.Outbox.Any(o => o.Status == status));
}
