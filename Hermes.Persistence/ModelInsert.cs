using System.Data.Common;
using System.Reflection;
using System.Text;
using Hermes.Persistence.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Hermes.Persistence;

/// <summary>
/// A plain <c>INSERT</c> of one or more entities, built from the EF Core model: every column EF Core itself would send
/// for a new entity (the properties the database does not generate), each value converted and typed by the model's
/// own mapping, then an optional <c>RETURNING</c>. It runs on the context's connection, inside the context's
/// transaction, but without the change tracker: the submission path writes new rows and reads nothing back, so
/// snapshotting, batching and accepting changes are pure overhead there (measured in
/// bench/RESULTS.md). The model stays the single source of the column list: a property added to the entity is
/// inserted without touching this code.
/// </summary>
public sealed class ModelInsert<TEntity>
    where TEntity : class
{
    /// <summary>The most rows one statement takes: 64 rows of the widest table stay far below PostgreSQL's 65,535 parameters.</summary>
    public const int MaxRows = 64;

    private readonly Column[] _columns;
    private readonly string _head;
    private readonly string _returning;
    private readonly string?[] _sql = new string?[MaxRows + 1];

    private ModelInsert(string head, string returning, Column[] columns)
    {
        _head = head;
        _returning = returning;
        _columns = columns;
    }

    /// <summary>The one-row statement, with positional parameters (<c>$1</c>, <c>$2</c>, …).</summary>
    public string Sql => SqlFor(1);

    /// <summary>The inserted columns, in parameter order.</summary>
    public IReadOnlyList<string> Columns => [.. _columns.Select(static c => c.Name)];

    /// <summary>Builds the statement for <typeparamref name="TEntity"/> in <paramref name="model"/>, returning <paramref name="returning"/>.</summary>
    public static ModelInsert<TEntity> Create(IModel model, params string[] returning) => CreateWithGiven(model, [], returning);

    /// <summary>
    /// Builds the statement for <typeparamref name="TEntity"/> in <paramref name="model"/> with, besides the columns EF
    /// Core sends for a new entity, the database-generated columns <paramref name="given"/> (their values set by the
    /// caller), returning <paramref name="returning"/>.
    /// </summary>
    public static ModelInsert<TEntity> CreateWithGiven(IModel model, string[] given, params string[] returning)
    {
        var entityType = model.FindEntityType(typeof(TEntity))
            ?? throw new InvalidOperationException($"{typeof(TEntity).Name} is not in the model.");
        var table = entityType.GetTableName()!;
        var store = StoreObjectIdentifier.Table(table, entityType.GetSchema());
        var columns = entityType.GetProperties()
            .Where(p => p.ValueGenerated == ValueGenerated.Never || given.Contains(p.GetColumnName(store), StringComparer.Ordinal))
            .Select(p => new Column(
                p.GetColumnName(store) ?? throw new InvalidOperationException($"{p.Name} has no column in {table}."),
                p.PropertyInfo ?? throw new InvalidOperationException($"{p.Name} is not a CLR property."),
                p.GetRelationalTypeMapping(),
                p.IsNullable))
            .OrderBy(static c => c.Name, StringComparer.Ordinal)
            .ToArray();

        var head = new StringBuilder("INSERT INTO ").Append(table).Append(" (")
            .AppendJoin(", ", columns.Select(static c => c.Name))
            .Append(") VALUES ").ToString();
        var tail = returning.Length > 0 ? " RETURNING " + string.Join(", ", returning) : "";
        return new ModelInsert<TEntity>(head, tail, columns);
    }

    /// <summary>The statement for <paramref name="rows"/> rows: one <c>VALUES</c> list, parameters numbered row after row.</summary>
    public string SqlFor(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, MaxRows);
        return _sql[rows] ??= Build(rows);

        string Build(int count)
        {
            var sql = new StringBuilder(_head);
            for (var row = 0; row < count; row++)
            {
                sql.Append(row == 0 ? "(" : ", (");
                for (var column = 0; column < _columns.Length; column++)
                {
                    sql.Append(column == 0 ? "$" : ", $").Append(((row * _columns.Length) + column + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
                }

                sql.Append(')');
            }

            return sql.Append(_returning).ToString();
        }
    }

    /// <summary>A command for <paramref name="entity"/> on the context's open connection and current transaction.</summary>
    public DbCommand CommandFor(DbContext context, TEntity entity) => CommandFor(context, [entity]);

    /// <summary>One command inserting all of <paramref name="entities"/> (1 to <see cref="MaxRows"/>), in their order.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA2100", Justification = "The text is built from the EF Core model's table and column names only; every value is a parameter.")]
    public DbCommand CommandFor(DbContext context, IReadOnlyList<TEntity> entities)
    {
        var connection = context.Database.GetDbConnection();
        var command = connection.CreateCommand();
        command.CommandText = SqlFor(entities.Count);
        command.Transaction = context.Database.CurrentTransaction?.GetDbTransaction();
        foreach (var entity in entities)
        {
            foreach (var column in _columns)
            {
                // CreateParameter applies the mapping's value converter (e.g. the outbox status enum to its name).
                command.Parameters.Add(column.Mapping.CreateParameter(command, "", column.Property.GetValue(entity), column.Nullable));
            }
        }

        return command;
    }

    /// <summary>
    /// The same insert as <see cref="CommandFor(DbContext, IReadOnlyList{TEntity})"/>, as one command of an
    /// <see cref="NpgsqlBatch"/>, for sending together with other statements in one round trip.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA2100", Justification = "The text is built from the EF Core model's table and column names only; every value is a parameter.")]
    public NpgsqlBatchCommand BatchCommandFor(IReadOnlyList<TEntity> entities)
    {
        var batchCommand = new NpgsqlBatchCommand(SqlFor(entities.Count));

        // The mappings create parameters through a command; this one only makes them (none is added to it).
        using var factory = new NpgsqlCommand();
        foreach (var entity in entities)
        {
            foreach (var column in _columns)
            {
                batchCommand.Parameters.Add((NpgsqlParameter)column.Mapping.CreateParameter(factory, "", column.Property.GetValue(entity), column.Nullable));
            }
        }

        return batchCommand;
    }

    private sealed record Column(string Name, PropertyInfo Property, RelationalTypeMapping Mapping, bool Nullable);
}

/// <summary>
/// The submissions' rows, written with <see cref="ModelInsert{TEntity}"/> inside the context's current transaction:
/// as the submission path writes them, the leads with their ids and times given and their outbox rows, with the commit,
/// in one round trip (<see cref="WriteAndCommitAsync"/>); or, for tools and tests, the leads with their database-assigned
/// ids and times read back onto them, then their outbox rows.
/// </summary>
public static class SubmissionRows
{
    private static ModelInsert<Domain.Lead>? s_lead;
    private static ModelInsert<Domain.Lead>? s_givenLead;
    private static ModelInsert<Domain.OutboxMessage>? s_outbox;

    public static ModelInsert<Domain.Lead> LeadInsert(IModel model) => s_lead ??= ModelInsert<Domain.Lead>.Create(model, "lead_id", "id", "created_at");

    /// <summary>The leads' insert with their backup id and time given, as the submission path writes them.</summary>
    public static ModelInsert<Domain.Lead> GivenLeadInsert(IModel model) => s_givenLead ??= ModelInsert<Domain.Lead>.CreateWithGiven(model, ["id", "created_at"]);

    public static ModelInsert<Domain.OutboxMessage> OutboxInsert(IModel model) => s_outbox ??= ModelInsert<Domain.OutboxMessage>.Create(model);

    /// <summary>Inserts <paramref name="lead"/> and sets its <c>BackupId</c> and <c>CreatedAt</c> from the database.</summary>
    public static Task InsertLeadAsync(HermesDbContext context, Domain.Lead lead, CancellationToken cancellationToken) =>
        InsertLeadsAsync(context, [lead], cancellationToken);

    /// <summary>
    /// Inserts <paramref name="leads"/> (distinct lead ids, at most <see cref="ModelInsert{TEntity}.MaxRows"/>) in one
    /// statement and sets each one's <c>BackupId</c> and <c>CreatedAt</c> from the row returned for its lead id (PostgreSQL
    /// does not promise to return rows in the order of the VALUES list).
    /// </summary>
    public static async Task InsertLeadsAsync(HermesDbContext context, IReadOnlyList<Domain.Lead> leads, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)context.Database.GetDbConnection();
        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)context.Database.CurrentTransaction?.GetDbTransaction());
        batch.BatchCommands.Add(LeadInsert(context.Model).BatchCommandFor(leads));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);

        var byLeadId = leads.Count == 1 ? null : leads.ToDictionary(static l => l.LeadId, StringComparer.Ordinal);
        var returned = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            var lead = byLeadId is null ? leads[0] : byLeadId[reader.GetString(0)];
            lead.BackupId = reader.GetInt64(1);
            lead.CreatedAt = reader.GetFieldValue<DateTimeOffset>(2);
            returned++;
        }

        if (returned != leads.Count)
        {
            throw new InvalidOperationException($"The lead insert returned {returned} rows for {leads.Count} leads.");
        }
    }

    /// <summary>Inserts <paramref name="message"/>; its id, time and availability are the database's defaults.</summary>
    public static Task InsertOutboxAsync(HermesDbContext context, Domain.OutboxMessage message, CancellationToken cancellationToken) =>
        InsertOutboxAsync(context, [message], cancellationToken);

    /// <summary>Inserts <paramref name="messages"/> (at most <see cref="ModelInsert{TEntity}.MaxRows"/>) in one statement.</summary>
    public static async Task InsertOutboxAsync(HermesDbContext context, IReadOnlyList<Domain.OutboxMessage> messages, CancellationToken cancellationToken)
    {
        await using var command = OutboxInsert(context.Model).CommandFor(context, messages);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Inserts <paramref name="leads"/> — their <c>BackupId</c> and <c>CreatedAt</c> given (see
    /// <see cref="BackupIdReservoir"/>) — and <paramref name="messages"/> and commits the context's current transaction,
    /// all in one round trip: one batch, so PostgreSQL runs each statement only when the ones before it succeeded, and the
    /// <c>COMMIT</c> last. With <paramref name="wakeUp"/>, the transaction's wake-up setting
    /// (<see cref="OutboxNotifier.DeferInThisTransactionSql"/>) goes first. <paramref name="committing"/> is called with
    /// true just before the batch is sent, and with false when PostgreSQL answered that a statement failed (then nothing
    /// was committed; a transaction left open is rolled back when it is disposed); any other failure may have come after
    /// the commit was written.
    /// </summary>
    public static async Task WriteAndCommitAsync(HermesDbContext context, IReadOnlyList<Domain.Lead> leads, IReadOnlyList<Domain.OutboxMessage> messages, OutboxNotifier? wakeUp, Action<bool> committing, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)context.Database.GetDbConnection();
        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)context.Database.CurrentTransaction?.GetDbTransaction());
        wakeUp?.DeferIn(batch);
        batch.BatchCommands.Add(GivenLeadInsert(context.Model).BatchCommandFor(leads));
        batch.BatchCommands.Add(OutboxInsert(context.Model).BatchCommandFor(messages));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        committing(true);
        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.InvariantSeverity == "ERROR")
        {
            // The server answered that a statement failed: an insert (so nothing after it ran) or the COMMIT itself
            // (which then rolled back). Nothing is committed either way. A FATAL error, or no answer at all, may have
            // come after the commit was written: the outcome is unknown.
            committing(false);
            throw;
        }
    }
}
