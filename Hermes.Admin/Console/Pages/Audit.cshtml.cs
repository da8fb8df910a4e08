using Hermes.Admin.AdminApi;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hermes.Admin.OperatorConsole.Pages;

/// <summary>
/// The audit trail, newest first: the parameters are those of <c>GET /api/admin/audit</c> (<c>leadId</c>,
/// <c>cursor</c>, <c>limit</c>), read by the same parser and run by the same <see cref="AuditTrail"/>.
/// </summary>
public sealed class AuditModel(AuditTrail audit) : PageModel
{
    public AuditPage? Results { get; private set; }

    public IReadOnlyDictionary<string, string[]> Errors { get; private set; } = new Dictionary<string, string[]>();

    public string? LeadId => Request.Query.TryGetValue("leadId", out var value) ? value.ToString() : null;

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var (query, errors) = AdminQueries.ParseAuditList(Request.Query);
        Errors = errors;
        if (errors.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        Results = await audit.ListAsync(query.Cursor, query.Limit, query.LeadId, cancellationToken);
    }

    /// <summary>The same listing, one page further.</summary>
    public string NextPageUrl(long cursor) => ConsoleFormat.WithQuery(Request, "cursor", cursor.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public string? Error(string field) => Errors.TryGetValue(field, out var messages) ? string.Join(" ", messages) : null;

    /// <summary>The entry's detail as short <c>name: value</c> pairs (ids and counts only: entries hold no personal data).</summary>
    public static string Detail(AuditEntry entry) =>
        entry.Detail.ValueKind != System.Text.Json.JsonValueKind.Object ? "" :
        string.Join(", ", entry.Detail.EnumerateObject().Where(static p => p.Value.ValueKind != System.Text.Json.JsonValueKind.Null)
            .Select(static p => $"{p.Name}: {(p.Value.ValueKind == System.Text.Json.JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText())}"));
}
