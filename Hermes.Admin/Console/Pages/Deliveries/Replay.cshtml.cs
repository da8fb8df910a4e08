using Hermes.Domain;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Primitives;

namespace Hermes.Admin.OperatorConsole.Pages.Deliveries;

/// <summary>
/// Replay in two steps: the GET is the dry run (<see cref="OutboxReplay"/> with <c>DryRun</c>, changing nothing) and
/// shows a confirmation form; its POST (with an antiforgery token) runs the same request for real. Both are the
/// operation behind the CLI's <c>replay</c> and <c>POST /api/admin/outbox/replay</c>. A relative "since" (<c>2h</c>)
/// is fixed to a time at the preview, so the confirmation replays what the preview counted.
/// </summary>
public sealed class ReplayModel(OutboxReplay replay, TimeProvider clock, ILogger<ReplayModel> logger) : PageModel
{
    public ReplayRequest? Asked { get; private set; }

    public ReplayResult? Result { get; private set; }

    public IReadOnlyDictionary<string, string[]> Errors { get; private set; } = new Dictionary<string, string[]>();

    public async Task OnGetAsync(CancellationToken cancellationToken) => await RunAsync(HttpContext.Request.Query, dryRun: true, cancellationToken);

    public async Task OnPostAsync(CancellationToken cancellationToken)
    {
        await RunAsync(HttpContext.Request.Form, dryRun: false, cancellationToken);
        if (Result is { } result)
        {
            ConsoleLog.Replayed(logger, User.FindFirst(ConsoleExtensions.KeyIdClaim)?.Value, result.Count, result.Status);
        }
    }

    private async Task RunAsync(IEnumerable<KeyValuePair<string, StringValues>> values, bool dryRun, CancellationToken cancellationToken)
    {
        var (request, errors) = Parse(values.ToDictionary(static v => v.Key, static v => v.Value, StringComparer.Ordinal), clock.GetUtcNow());
        Asked = request with { DryRun = dryRun };
        Errors = errors;
        if (errors.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        // The preview (a dry run on every view) is not an operator action; the confirmed replay is, and is audited.
        Result = await replay.ReplayAsync(Asked, cancellationToken, dryRun ? null : ConsoleExtensions.ActorOf(User));
    }

    /// <summary>The form's fields: <c>status</c> (default failed), any number of <c>leadIds</c>, <c>since</c>, <c>until</c>.</summary>
    internal static (ReplayRequest Request, Dictionary<string, string[]> Errors) Parse(Dictionary<string, StringValues> values, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        string? Single(string name) => values.TryGetValue(name, out var v) && !StringValues.IsNullOrEmpty(v) && !string.IsNullOrWhiteSpace(v.ToString()) ? v.ToString().Trim() : null;
        DateTimeOffset? Instant(string name)
        {
            if (Single(name) is not { } text)
            {
                return null;
            }

            if (OperatorTime.TryParseInstant(text, now, out var instant))
            {
                return instant;
            }

            errors[name] = [$"Must be {OperatorTime.InstantHelp}."];
            return null;
        }

        var leadIds = values.TryGetValue("leadIds", out var ids)
            ? ids.Where(static id => !string.IsNullOrWhiteSpace(id)).Select(static id => id!.Trim()).Distinct(StringComparer.Ordinal).ToList()
            : [];
        var request = new ReplayRequest { Status = Single("status") ?? OutboxStatusNames.Failed, LeadIds = leadIds, Since = Instant("since"), Until = Instant("until") };
        foreach (var (key, messages) in request.Validate())
        {
            errors.TryAdd(key, messages);
        }

        return (request, errors);
    }
}
