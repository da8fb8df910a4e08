using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hermes.Admin.OperatorConsole.Pages;

/// <summary>
/// GDPR erasure by email address or lead id. The GET shows whose data would go (with each lead's Brevo contact id);
/// the POST erases only when the operator typed the address or id again, and then runs <see cref="LeadErasure"/>,
/// the operation of the CLI's <c>erase</c> and <c>POST /api/admin/leads/erase</c>.
/// </summary>
public sealed class EraseModel(LeadSearch search, LeadErasure erasure, ILogger<EraseModel> logger) : PageModel
{
    public string? Email { get; private set; }

    public string? LeadId { get; private set; }

    public string? Target => Email ?? LeadId;

    public LeadPage? Matches { get; private set; }

    public ErasureResult? Result { get; private set; }

    public string? Error { get; private set; }

    public async Task OnGetAsync(string? email, string? leadId, CancellationToken cancellationToken) =>
        await PreviewAsync(email, leadId, cancellationToken);

    public async Task OnPostAsync(string? email, string? leadId, string? confirmation, CancellationToken cancellationToken)
    {
        if (!await PreviewAsync(email, leadId, cancellationToken))
        {
            return;
        }

        var typed = confirmation?.Trim() ?? "";
        var confirmed = Email is not null ? string.Equals(typed, Email, StringComparison.OrdinalIgnoreCase) : string.Equals(typed, LeadId, StringComparison.Ordinal);
        if (!confirmed)
        {
            Error = $"Type {(Email is not null ? "the email address" : "the lead id")} exactly as shown to confirm. Nothing was erased.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        Result = await erasure.EraseAsync(new ErasureRequest(Email, LeadId), cancellationToken, ConsoleExtensions.ActorOf(User));
        ConsoleLog.Erased(logger, User.FindFirst(ConsoleExtensions.KeyIdClaim)?.Value, Result.Leads.Count, string.Join(", ", Result.Leads.Select(static l => l.LeadId)));
    }

    /// <summary>Reads the target (exactly one of email and lead id) and finds its leads; false when there is nothing to erase.</summary>
    private async Task<bool> PreviewAsync(string? email, string? leadId, CancellationToken cancellationToken)
    {
        Email = string.IsNullOrWhiteSpace(email) ? null : email.Trim();
        LeadId = string.IsNullOrWhiteSpace(leadId) ? null : leadId.Trim();
        if (Email is null && LeadId is null)
        {
            return false;
        }

        if (new ErasureRequest(Email, LeadId).Validate().Count > 0 || Email is { Length: > 255 } || LeadId is { Length: > 50 })
        {
            Error = "Give either an email address or a lead id, not both.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return false;
        }

        Matches = await search.SearchAsync(new LeadQuery { Email = Email, LeadId = LeadId, PageSize = LeadSearch.MaxPageSize }, cancellationToken);
        if (Matches.Items.Count == 0)
        {
            Error = Email is not null ? "No lead has this email address. Nothing to erase." : $"There is no lead {LeadId}. Nothing to erase.";
            Response.StatusCode = StatusCodes.Status404NotFound;
            return false;
        }

        return true;
    }
}
