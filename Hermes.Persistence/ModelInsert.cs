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
/// own mapping, as one command of a batch that <see cref="SubmissionRows"/> sends on the context's connection, inside
/// its transaction, but without the change tracker: the submission path writes new rows and reads nothing back, so
/// snapshotting, batching and accepting changes are pure overhead there (measured in bench/RESULTS.md). The model
/// stays the single source of the column list: a property added to the entity is inserted without touching this code.
/// </summary>
public sealed class ModelInsert<TEntity>
    where TEntity : class
{
    /// <summary>The most rows one statement takes: 64 rows of the widest table stay far below PostgreSQL's 65,535 parameters.</summary>
    public const int MaxRows = 64;

    private readonly Column[] _columns;
    private readonly string _head;
    private readonly string?[] _sql = new string?[MaxRows + 1];

    private ModelInsert(string head, Column[] columns)
    {
        _head = head;
        _columns = columns;
    }

    /// <summary>The inserted columns, in parameter order.</summary>
    public IReadOnlyList<string> Columns => [.. _columns.Select(static c => c.Name)];

    /// <summary>Builds the statement for <typeparamref name="TEntity"/> in <paramref name="model"/>.</summary>
    public static ModelInsert<TEntity> Create(IModel model) => CreateWithGiven(model, []);

    /// <summary>
    /// Builds the statement for <typeparamref name="TEntity"/> in <paramref name="model"/> with, besides the columns EF
    /// Core sends for a new entity, the database-generated columns <paramref name="given"/> (their values set by the
    /// caller).
    /// </summary>
    public static ModelInsert<TEntity> CreateWithGiven(IModel model, string[] given)
    {
        var entityType = model.FindEntityType(typeof(TEntity))
            ?? throw new InvalidOperationException($"{typeof(TEntity).Name} is not in the model.");
        var table = entityType.GetTableName()!;
        var store = StoreObjectIdentifier.Table(table, entityType.GetSchema());
        var columns = entityType.GetProperties()
            .Select(p => (Property: p, Name: p.GetColumnName(store)))
            .Where(c => c.Property.ValueGenerated == ValueGenerated.Never || given.Contains(c.Name, StringComparer.Ordinal))
            .Select(c => new Column(
                c.Name ?? throw new InvalidOperationException($"{c.Property.Name} has no column in {table}."),
                c.Property.PropertyInfo ?? throw new InvalidOperationException($"{c.Property.Name} is not a CLR property."),
                c.Property.GetRelationalTypeMapping(),
                c.Property.IsNullable))
            .OrderBy(static c => c.Name, StringComparer.Ordinal)
            .ToArray();

        var head = new StringBuilder("INSERT INTO ").Append(table).Append(" (")
            .AppendJoin(", ", columns.Select(static c => c.Name))
            .Append(") VALUES ").ToString();
        return new ModelInsert<TEntity>(head, columns);
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

            return sql.ToString();
        }
    }

    /// <summary>
    /// One command of an <see cref="NpgsqlBatch"/> inserting all of <paramref name="entities"/> (1 to
    /// <see cref="MaxRows"/>), in their order, for sending together with other statements in one round trip.
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
                // CreateParameter applies the mapping's value converter (e.g. the outbox status enum to its name).
                batchCommand.Parameters.Add((NpgsqlParameter)column.Mapping.CreateParameter(factory, "", column.Property.GetValue(entity), column.Nullable));
            }
        }

        return batchCommand;
    }

    private sealed record Column(string Name, PropertyInfo Property, RelationalTypeMapping Mapping, bool Nullable);
}

/// <summary>
/// The submissions' rows, written with <see cref="ModelInsert{TEntity}"/> inside the context's current transaction as
/// the submission path writes them: the leads with their ids and times given and their outbox rows, with the commit, in
/// one round trip (<see cref="WriteAndCommitAsync"/>).
/// </summary>
public static class SubmissionRows
{
    private static ModelInsert<Domain.Lead>? s_givenLead;
    private static ModelInsert<Domain.OutboxMessage>? s_outbox;

    /// <summary>The leads' insert with their backup id and time given, as the submission path writes them.</summary>
    public static ModelInsert<Domain.Lead> GivenLeadInsert(IModel model) => s_givenLead ??= ModelInsert<Domain.Lead>.CreateWithGiven(model, ["id", "created_at"]);

    public static ModelInsert<Domain.OutboxMessage> OutboxInsert(IModel model) => s_outbox ??= ModelInsert<Domain.OutboxMessage>.Create(model);

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
