using System.Globalization;
using Hermes.Domain;
using Hermes.Persistence.Operations;

namespace Hermes.Admin.OperatorConsole;

/// <summary>How the console writes times, ages and counts: UTC, to the second, invariant digits.</summary>
public static class ConsoleFormat
{
    public static string Time(DateTimeOffset? time) =>
        time is { } t ? t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";

    /// <summary>The machine-readable form for <c>&lt;time datetime&gt;</c> and for hidden form fields (parses back exactly).</summary>
    public static string Iso(DateTimeOffset time) => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    public static string Age(DateTimeOffset? since, DateTimeOffset now) => since is { } s ? OperatorTime.Format(now - s) : "—";

    public static string Count(long count) => count.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A CSS class for a status or outcome value: letters, digits and underscores only.</summary>
    public static string StatusClass(string? status) =>
        "status status-" + new string([.. (status ?? "none").Where(static c => char.IsAsciiLetterOrDigit(c) || c == '_')]);

    /// <summary>A lead's CRM erasure state (<c>CrmErasureStateNames</c>) in words, for the lead page.</summary>
    public static string CrmErasure(string? state) => state switch
    {
        CrmErasureStateNames.NotNeeded => "nothing to erase (the lead never reached Brevo)",
        CrmErasureStateNames.AwaitingDelivery => "waiting for the delivery in flight (its contact id is erased when it arrives)",
        CrmErasureStateNames.Queued => "erasure queued, not yet confirmed by n8n",
        CrmErasureStateNames.Confirmed => "erased (confirmed by n8n)",
        CrmErasureStateNames.Failed => "erasure failed (see the lead.erased row below)",
        CrmErasureStateNames.NoContactId => "no Brevo contact id was ever received: nothing Hermes can name",
        null => "not recorded (erased before Hermes passed erasures on)",
        _ => state,
    };

    /// <summary>The request's path and query with one parameter replaced (for "next page" links).</summary>
    public static string WithQuery(HttpRequest request, string name, string value)
    {
        var pairs = request.Query.Where(q => q.Key != name)
            .SelectMany(static q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? "")))
            .Append(new(name, value));
        return request.Path + new Microsoft.AspNetCore.Http.Extensions.QueryBuilder(pairs).ToQueryString().ToString();
    }
}
