using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json.Serialization;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>
/// Which leads to list: any of an email address (exact, ignoring case), a public lead id, and a creation-time range
/// (<see cref="From"/> inclusive, <see cref="To"/> exclusive). <see cref="Cursor"/> is the previous page's
/// <see cref="LeadPage.NextCursor"/>: the incremental id of its last lead.
/// </summary>
public sealed record LeadQuery
{
    public string? Email { get; init; }
    public string? LeadId { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public long? Cursor { get; init; }

    /// <summary>False (the default): real leads only; true: the canaries only (docs/monitoring.md, "The canary").</summary>
    public bool Canaries { get; init; }

    public int PageSize { get; init; } = LeadSearch.DefaultPageSize;

    public IReadOnlyDictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (From is { } from && To is { } to && from >= to)
        {
            errors["to"] = ["Must be later than 'from'."];
        }

        if (Cursor is < 1)
        {
            errors["cursor"] = ["Must be the nextCursor of the previous page."];
        }

        if (PageSize is < 1 or > LeadSearch.MaxPageSize)
        {
            errors["limit"] = [$"Must be a whole number from 1 to {LeadSearch.MaxPageSize}."];
        }

        return errors;
    }
}

/// <summary>One lead in a list: who, when, where it stands.</summary>
public sealed record LeadSummary(
    [property: JsonPropertyName("id")] long BackupId,
    string LeadId,
    DateTimeOffset? CreatedAt,
    string FirstName,
    string LastName,
    string Email,
    string? Status,
    string? BrevoContactId,
    DateTimeOffset? ErasedAt,
    bool IsCanary = false);

public sealed record LeadPage(IReadOnlyList<LeadSummary> Items, long? NextCursor);

/// <summary>
/// Lists leads newest first, filtered by email (through <c>idx_hermes_leads_email</c> on <c>lower(email)</c>), lead id
/// (<c>idx_hermes_leads_lead_id</c>) or creation time (<c>idx_hermes_leads_created_at</c>), a page at a time by keyset
/// on the incremental id (assigned in the order leads are written, to within a second: see <c>BackupIdReservoir</c>;
/// never null), so the hundredth page
/// costs what the first does.
/// </summary>
public sealed class LeadSearch(NpgsqlDataSource dataSource)
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    // Only the filters given become conditions (each from this fixed set), so every combination has its own plain
    // statement and the planner, custom or generic plan, can use the index that fits; values travel as parameters.
    private const string Select = """
        SELECT id, lead_id, created_at, first_name, last_name, email, status, brevo_contact_id, erased_at, is_canary
        FROM hermes_leads
        """;

    // Canaries are never listed with the leads; the canary filter lists them alone, through idx_hermes_leads_canary.
    private const string RealLeads = " WHERE NOT is_canary";
    private const string CanariesOnly = " WHERE is_canary";

    private const string ByEmail = " AND lower(email) = lower(@email)";
    private const string ByLeadId = " AND lead_id = @lead_id";
    private const string FromTime = " AND created_at >= @from";
    private const string ToTime = " AND created_at < @to";
    private const string BeforeCursor = " AND id < @cursor";
    private const string Order = " ORDER BY id DESC LIMIT @limit";

    public async Task<LeadPage> SearchAsync(LeadQuery query, CancellationToken cancellationToken)
    {
        var errors = query.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors.Select(static e => $"{e.Key}: {string.Join(" ", e.Value)}")), nameof(query));
        }

        var sql = new StringBuilder(Select).Append(query.Canaries ? CanariesOnly : RealLeads);
        var parameters = new List<NpgsqlParameter>();
        if (!string.IsNullOrWhiteSpace(query.Email))
        {
            sql.Append(ByEmail);
            parameters.Add(new NpgsqlParameter("email", NpgsqlDbType.Text) { Value = query.Email.Trim() });
        }

        if (!string.IsNullOrWhiteSpace(query.LeadId))
        {
            sql.Append(ByLeadId);
            parameters.Add(new NpgsqlParameter("lead_id", NpgsqlDbType.Varchar) { Value = query.LeadId.Trim() });
        }

        if (query.From is { } from)
        {
            sql.Append(FromTime);
            parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = from.ToUniversalTime() });
        }

        if (query.To is { } to)
        {
            sql.Append(ToTime);
            parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = to.ToUniversalTime() });
        }

        if (query.Cursor is { } cursor)
        {
            sql.Append(BeforeCursor);
            parameters.Add(new NpgsqlParameter("cursor", NpgsqlDbType.Bigint) { Value = cursor });
        }

        sql.Append(Order);
        parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Integer) { Value = query.PageSize + 1 });
        await using var command = Command(sql.ToString(), parameters);

        var items = new List<LeadSummary>(query.PageSize + 1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new LeadSummary(
                reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8), reader.GetBoolean(9)));
        }

        if (items.Count <= query.PageSize)
        {
            return new LeadPage(items, null);
        }

        items.RemoveAt(items.Count - 1);
        return new LeadPage(items, items[^1].BackupId);
    }

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "The statement is joined from this class's constant fragments only; values travel as parameters.")]
    private NpgsqlCommand Command(string sql, List<NpgsqlParameter> parameters)
    {
        var command = dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters.ToArray());
        return command;
    }
}
