using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>The operator actions the audit trail records (<c>hermes_audit.action</c>, spelt as <see cref="AuditActions"/> maps them).</summary>
public enum AuditAction
{
    ConsoleSignIn,
    ConsoleSignOut,
    Replay,
    ReplayDryRun,
    Erase,
    Purge,
    Seed,
    Migrate,

    /// <summary>The worker's automatic recovery after an outage (<see cref="OutboxAutoRecovery"/>), by <c>system:auto-recover</c>.</summary>
    AutoRecover,
}

/// <summary><see cref="AuditAction"/> as the database spells it: the one mapping (the migration's check constraint lists the same).</summary>
public static class AuditActions
{
    public static string ToDatabase(this AuditAction action) => action switch
    {
        AuditAction.ConsoleSignIn => "console_sign_in",
        AuditAction.ConsoleSignOut => "console_sign_out",
        AuditAction.Replay => "replay",
        AuditAction.ReplayDryRun => "replay_dry_run",
        AuditAction.Erase => "erase",
        AuditAction.Purge => "purge",
        AuditAction.Seed => "seed",
        AuditAction.Migrate => "migrate",
        AuditAction.AutoRecover => "auto_recover",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };
}

/// <summary>
/// Who acted: <c>key:&lt;id&gt;</c> for the admin API and the console (the short id of the admin key, never the key),
/// <c>cli:&lt;user&gt;</c> for the operator CLI (the operating-system user that ran it). The database adds the login
/// (<c>db_login</c>, <c>session_user</c>) itself.
/// </summary>
public sealed record AuditActor
{
    private const int MaxName = 100;

    private AuditActor(string value) => Value = value;

    public string Value { get; }

    public static AuditActor ForKey(string keyId) => new("key:" + Clean(keyId));

    public static AuditActor ForCli(string? userName = null) => new("cli:" + Clean(userName ?? Environment.UserName));

    public override string ToString() => Value;

    // The name comes from outside (an environment's user name): letters, digits and . _ - @ only, whole characters, at most 100.
    private static string Clean(string? name)
    {
        var builder = new StringBuilder();
        foreach (var rune in (name ?? "").EnumerateRunes())
        {
            if (builder.Length >= MaxName)
            {
                break;
            }

            builder.Append(rune.IsAscii && (Rune.IsLetterOrDigit(rune) || rune.Value is '.' or '_' or '-' or '@') ? (char)rune.Value : '_');
        }

        return builder.Length == 0 ? "unknown" : builder.ToString();
    }
}

/// <summary>One entry of the trail as the admin API and the console show it.</summary>
public sealed record AuditEntry(
    long Id,
    DateTimeOffset At,
    string Actor,
    string DbLogin,
    string Action,
    string Outcome,
    IReadOnlyList<string> LeadIds,
    long LeadCount,
    JsonElement Detail);

/// <summary>A page of the trail, newest first; <see cref="NextCursor"/> asks for the next (older) page.</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, long? NextCursor);

/// <summary>
/// The audit trail (<c>hermes_audit</c>, migration <c>AuditTrail</c>): every operator action — console sign-in and
/// sign-out, replay and its dry run, erase, purge, seed, migrate — with who, what, which leads, when and the outcome.
/// Each action appends its entry in its own transaction (the replay in its one statement), so the trail never shows an
/// action that did not happen, nor misses one that did. The table refuses UPDATE, DELETE and TRUNCATE; only
/// <c>hermes_audit_purge(interval)</c> removes entries, none younger than 30 days (the worker's retention,
/// <c>Retention:AuditPeriod</c>). An entry holds ids and counts, never personal data: an erase by email records
/// "by email", not the address.
/// </summary>
public sealed class AuditTrail(NpgsqlDataSource dataSource)
{
    /// <summary>At most this many lead ids are kept per entry; <c>lead_count</c> holds the full number.</summary>
    public const int MaxLeadIds = 1000;

    /// <summary><see cref="MaxLeadIds"/> for SQL text.</summary>
    public const string MaxLeadIdsText = "1000";

    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    /// <summary>The append: parameters @actor, @action, @outcome, @lead_ids, @lead_count, @detail.</summary>
    public const string AppendSql = """
        INSERT INTO hermes_audit (actor, action, outcome, lead_ids, lead_count, detail)
        VALUES (@actor, @action, @outcome, @lead_ids, @lead_count, @detail)
        """;

    private const string ListSql = """
        SELECT id, at, actor, db_login, action, outcome, lead_ids, lead_count, detail
        FROM hermes_audit
        WHERE (@before IS NULL OR id < @before) AND (@lead_id IS NULL OR lead_ids @> ARRAY[@lead_id]::text[])
        ORDER BY id DESC
        LIMIT @limit
        """;

    /// <summary>Appends one entry on <paramref name="connection"/>, inside <paramref name="transaction"/> when the action has one.</summary>
    public static async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, AuditActor actor, AuditAction action,
        IReadOnlyCollection<string> leadIds, Dictionary<string, object?>? detail, CancellationToken cancellationToken, bool refused = false)
    {
        await using var command = new NpgsqlCommand(AppendSql, connection, transaction);
        AddParameters(command, actor, action, leadIds, detail, refused);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Appends one entry in a transaction of its own: for actions that are themselves one statement or none (sign-in, sign-out, a dry run, a refusal).</summary>
    public async Task AppendAsync(AuditActor actor, AuditAction action, IReadOnlyCollection<string> leadIds, Dictionary<string, object?>? detail, CancellationToken cancellationToken, bool refused = false)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AppendAsync(connection, null, actor, action, leadIds, detail, cancellationToken, refused);
    }

    /// <summary>The shortest time an entry is kept: <c>hermes_audit_purge</c> never deletes a younger one, whatever it is asked.</summary>
    public static readonly TimeSpan MinimumRetention = TimeSpan.FromDays(30);

    /// <summary>Retention: deletes the entries older than <paramref name="keep"/> (at least <see cref="MinimumRetention"/>) through the one function allowed to, and says how many.</summary>
    public async Task<long> PurgeAsync(TimeSpan keep, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT hermes_audit_purge(@keep)");
        command.Parameters.Add(new NpgsqlParameter("keep", NpgsqlDbType.Interval) { Value = keep });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Appends when the trail exists, and says whether it did: for <c>migrate</c>, which runs before migration
    /// <c>AuditTrail</c> made the table and after a roll-back below it dropped it.
    /// </summary>
    public async Task<bool> AppendIfPresentAsync(AuditActor actor, AuditAction action, Dictionary<string, object?>? detail, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('hermes_audit') IS NOT NULL", connection))
        {
            if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return false;
            }
        }

        await AppendAsync(connection, null, actor, action, [], detail, cancellationToken);
        return true;
    }

    /// <summary>Adds the append's parameters to a command whose text contains <see cref="AppendSql"/> (or uses its parameter names).</summary>
    public static void AddParameters(NpgsqlCommand command, AuditActor actor, AuditAction action, IReadOnlyCollection<string> leadIds, Dictionary<string, object?>? detail, bool refused = false)
    {
        command.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Text) { Value = actor.Value });
        command.Parameters.Add(new NpgsqlParameter("action", NpgsqlDbType.Text) { Value = action.ToDatabase() });
        command.Parameters.Add(new NpgsqlParameter("outcome", NpgsqlDbType.Text) { Value = refused ? "refused" : "succeeded" });
        command.Parameters.Add(new NpgsqlParameter("lead_ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = leadIds.Take(MaxLeadIds).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("lead_count", NpgsqlDbType.Bigint) { Value = (long)leadIds.Count });
        command.Parameters.Add(new NpgsqlParameter("detail", NpgsqlDbType.Jsonb) { Value = Json(detail) });
    }

    /// <summary>Newest first, <paramref name="limit"/> entries older than <paramref name="cursor"/> (an entry id), optionally only those naming <paramref name="leadId"/>.</summary>
    public async Task<AuditPage> ListAsync(long? cursor, int limit, string? leadId, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxPageSize);
        await using var command = dataSource.CreateCommand(ListSql);
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Bigint) { Value = (object?)cursor ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("lead_id", NpgsqlDbType.Text) { Value = (object?)leadId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Integer) { Value = limit + 1 });
        var entries = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            using var detail = JsonDocument.Parse(reader.GetString(8));
            entries.Add(new AuditEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.GetFieldValue<string[]>(6), reader.GetInt64(7), detail.RootElement.Clone()));
        }

        var more = entries.Count > limit;
        if (more)
        {
            entries.RemoveAt(entries.Count - 1);
        }

        return new AuditPage(entries, more ? entries[^1].Id : null);
    }

    internal static string Json(Dictionary<string, object?>? detail) =>
        detail is null ? "{}" : JsonSerializer.Serialize(detail, AuditJsonContext.Default.DictionaryStringObject);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Dictionary<string, object?>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(DateTimeOffset))]
[JsonSerializable(typeof(TimeSpan))]
internal sealed partial class AuditJsonContext : JsonSerializerContext;
