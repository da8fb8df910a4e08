using Hermes.Admin.AdminApi;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Primitives;

namespace Hermes.Admin.OperatorConsole.Pages.Deliveries;

/// <summary>
/// Outbox rows, failed ones unless another status is chosen: the listing of <c>GET /api/admin/outbox</c> (the same
/// parser and <see cref="LeadHistory.ListOutboxAsync"/>). Rows are chosen with check boxes, or all of a status since
/// a time, for a dry-run preview on <see cref="ReplayModel"/>.
/// </summary>
public sealed class IndexModel(LeadHistory history, TimeProvider clock) : PageModel
{
    public const string AllStatuses = "all";

    public OutboxPage? Rows { get; private set; }

    public IReadOnlyDictionary<string, string[]> Errors { get; private set; } = new Dictionary<string, string[]>();

    public string Status { get; private set; } = OutboxStatusNames.Failed;

    public string? Since => Value("since");

    public string? Until => Value("until");

    public bool CanReplay => ReplayRequest.ReplayableStatuses.Contains(Status);

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Status = Value("status") ?? OutboxStatusNames.Failed;
        // The page's default is "failed" and its "all" means no status filter; the admin API's query has neither.
        var parameters = Request.Query.ToDictionary(static q => q.Key, static q => q.Value, StringComparer.Ordinal);
        parameters["status"] = Status == AllStatuses ? StringValues.Empty : new StringValues(Status);
        var (query, errors) = AdminQueries.ParseOutboxList(new QueryCollection(parameters), clock.GetUtcNow());
        Errors = errors;
        if (errors.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        Rows = await history.ListOutboxAsync(query.Status, query.Cursor, query.Limit, cancellationToken, query.Since, query.Until);
    }

    public string NextPageUrl(long cursor) => ConsoleFormat.WithQuery(Request, "cursor", cursor.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public string? Error(string field) => Errors.TryGetValue(field, out var messages) ? string.Join(" ", messages) : null;

    private string? Value(string name) => Request.Query.TryGetValue(name, out var value) && !StringValues.IsNullOrEmpty(value) ? value.ToString() : null;
}
