using Hermes.Admin.AdminApi;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hermes.Admin.OperatorConsole.Pages.Leads;

/// <summary>Lead search: the GET form's parameters are those of <c>GET /api/admin/leads</c>, read by the same parser and run by the same <see cref="LeadSearch"/>.</summary>
public sealed class IndexModel(LeadSearch search, TimeProvider clock) : PageModel
{
    public LeadPage? Results { get; private set; }

    public IReadOnlyDictionary<string, string[]> Errors { get; private set; } = new Dictionary<string, string[]>();

    public string? Email => Value("email");

    public string? LeadId => Value("leadId");

    public string? From => Value("from");

    public string? To => Value("to");

    /// <summary>The canaries alone (docs/monitoring.md, "The canary"); never mixed with the leads.</summary>
    public bool Canaries => Value("canary") == "true";

    public bool Searched => Request.Query.Count > 0;

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var (query, errors) = AdminQueries.ParseLeadSearch(Request.Query, clock.GetUtcNow());
        Errors = errors;
        if (errors.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        Results = await search.SearchAsync(query, cancellationToken);
    }

    /// <summary>The same search, one page further.</summary>
    public string NextPageUrl(long cursor) => ConsoleFormat.WithQuery(Request, "cursor", cursor.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public string? Error(string field) => Errors.TryGetValue(field, out var messages) ? string.Join(" ", messages) : null;

    private string? Value(string name) => Request.Query.TryGetValue(name, out var value) ? value.ToString() : null;
}
