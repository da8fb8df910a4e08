using Hermes.Domain;
using Hermes.Persistence.Operations;

namespace Hermes.Admin.AdminApi;

/// <summary>An outbox listing as asked for: status, a creation-time range, the page.</summary>
public sealed record OutboxListQuery(OutboxStatus? Status, DateTimeOffset? Since, DateTimeOffset? Until, long? Cursor, int Limit);

/// <summary>An audit trail listing as asked for: entries naming one lead, or all; the page.</summary>
public sealed record AuditListQuery(string? LeadId, long? Cursor, int Limit);

/// <summary>
/// The query strings of the list operations, read one way for the admin API and the console (whose filter forms are
/// GET forms with the same parameter names): <c>status</c>, <c>since</c>, <c>until</c>, <c>cursor</c>, <c>limit</c>
/// for the outbox; <c>email</c>, <c>leadId</c>, <c>from</c>, <c>to</c>, <c>cursor</c>, <c>limit</c> for leads;
/// <c>leadId</c>, <c>cursor</c>, <c>limit</c> for the audit trail. Times
/// are what operators write elsewhere (<see cref="OperatorTime"/>: ISO 8601, or <c>2h</c> meaning two hours ago).
/// Empty values count as absent, since an HTML form sends its empty fields.
/// </summary>
public static class AdminQueries
{
    public static (OutboxListQuery Query, Dictionary<string, string[]> Errors) ParseOutboxList(IQueryCollection query, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        OutboxStatus? status = null;
        if (Value(query, "status") is { } statusText)
        {
            if (OutboxStatusNames.TryParse(statusText, out var parsed))
            {
                status = parsed;
            }
            else
            {
                errors["status"] = ["Must be one of: pending, delivered, failed, cancelled."];
            }
        }

        var since = Instant(query, "since", now, errors);
        var until = Instant(query, "until", now, errors);
        if (since is { } s && until is { } u && s >= u)
        {
            errors["until"] = ["Must be later than 'since'."];
        }

        return (new OutboxListQuery(status, since, until, Cursor(query, errors), Limit(query, LeadHistory.DefaultPageSize, LeadHistory.MaxPageSize, errors)), errors);
    }

    public static (LeadQuery Query, Dictionary<string, string[]> Errors) ParseLeadSearch(IQueryCollection query, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var email = Value(query, "email");
        if (email is { Length: > 255 })
        {
            errors["email"] = ["Must be at most 255 characters."];
        }

        var leadId = Value(query, "leadId");
        if (leadId is { Length: > 50 })
        {
            errors["leadId"] = ["Must be at most 50 characters."];
        }

        var lead = new LeadQuery
        {
            Email = email,
            LeadId = leadId,
            From = Instant(query, "from", now, errors),
            To = Instant(query, "to", now, errors),
            Cursor = Cursor(query, errors),
            Canaries = Canaries(query, errors),
            PageSize = Limit(query, LeadSearch.DefaultPageSize, LeadSearch.MaxPageSize, errors),
        };
        foreach (var (key, messages) in lead.Validate())
        {
            errors.TryAdd(key, messages);
        }

        return (lead, errors);
    }

    public static (AuditListQuery Query, Dictionary<string, string[]> Errors) ParseAuditList(IQueryCollection query)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var leadId = Value(query, "leadId");
        if (leadId is { Length: > 50 })
        {
            errors["leadId"] = ["Must be at most 50 characters."];
        }

        return (new AuditListQuery(leadId, Cursor(query, errors), Limit(query, AuditTrail.DefaultPageSize, AuditTrail.MaxPageSize, errors)), errors);
    }

    private static string? Value(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var values) && !string.IsNullOrWhiteSpace(values.ToString()) ? values.ToString().Trim() : null;

    private static DateTimeOffset? Instant(IQueryCollection query, string name, DateTimeOffset now, Dictionary<string, string[]> errors)
    {
        if (Value(query, name) is not { } text)
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

    /// <summary><c>canary=true</c> lists the canaries alone (the console's checkbox sends it); absent or false: real leads.</summary>
    private static bool Canaries(IQueryCollection query, Dictionary<string, string[]> errors)
    {
        switch (Value(query, "canary"))
        {
            case null or "false":
                return false;
            case "true":
                return true;
            default:
                errors["canary"] = ["Must be true or false."];
                return false;
        }
    }

    private static long? Cursor(IQueryCollection query, Dictionary<string, string[]> errors)
    {
        if (Value(query, "cursor") is not { } text)
        {
            return null;
        }

        if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cursor) && cursor > 0)
        {
            return cursor;
        }

        errors["cursor"] = ["Must be the nextCursor of the previous page."];
        return null;
    }

    private static int Limit(IQueryCollection query, int defaultLimit, int max, Dictionary<string, string[]> errors)
    {
        if (Value(query, "limit") is not { } text)
        {
            return defaultLimit;
        }

        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var limit) && limit is >= 1 && limit <= max)
        {
            return limit;
        }

        errors["limit"] = [$"Must be a whole number from 1 to {max}."];
        return defaultLimit;
    }
}
