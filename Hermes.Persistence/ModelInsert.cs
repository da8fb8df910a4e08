using System.Data.Common;
using System.Reflection;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Hermes.Persistence;

/// <summary>
/// A plain <c>INSERT</c> of one entity, built once from the EF Core model: every column EF Core itself would send
/// for a new entity (the properties the database does not generate), each value converted and typed by the model's
/// own mapping, then an optional <c>RETURNING</c>. It runs on the context's connection, inside the context's
/// transaction, but without the change tracker: the submission path writes two new rows per request and reads
/// nothing back but the lead's id and time, so snapshotting, batching and accepting changes are pure overhead there
/// (measured in bench/RESULTS.md). The model stays the single source of the column list: a property added to the
/// entity is inserted without touching this code.
/// </summary>
public sealed class ModelInsert<TEntity>
    where TEntity : class
{
    private readonly Column[] _columns;

    private ModelInsert(string sql, Column[] columns)
    {
        Sql = sql;
        _columns = columns;
    }

    /// <summary>The statement, with positional parameters (<c>$1</c>, <c>$2</c>, …).</summary>
    public string Sql { get; }

    /// <summary>The inserted columns, in parameter order.</summary>
    public IReadOnlyList<string> Columns => [.. _columns.Select(static c => c.Name)];

    /// <summary>Builds the statement for <typeparamref name="TEntity"/> in <paramref name="model"/>, returning <paramref name="returning"/>.</summary>
    public static ModelInsert<TEntity> Create(IModel model, params string[] returning)
    {
        var entityType = model.FindEntityType(typeof(TEntity))
            ?? throw new InvalidOperationException($"{typeof(TEntity).Name} is not in the model.");
        var table = entityType.GetTableName()!;
        var store = StoreObjectIdentifier.Table(table, entityType.GetSchema());
        var columns = entityType.GetProperties()
            .Where(static p => p.ValueGenerated == ValueGenerated.Never)
            .Select(p => new Column(
                p.GetColumnName(store) ?? throw new InvalidOperationException($"{p.Name} has no column in {table}."),
                p.PropertyInfo ?? throw new InvalidOperationException($"{p.Name} is not a CLR property."),
                p.GetRelationalTypeMapping(),
                p.IsNullable))
            .OrderBy(static c => c.Name, StringComparer.Ordinal)
            .ToArray();

        var sql = new StringBuilder("INSERT INTO ").Append(table).Append(" (")
            .AppendJoin(", ", columns.Select(static c => c.Name))
            .Append(") VALUES (")
            .AppendJoin(", ", columns.Select(static (_, i) => "$" + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .Append(')');
        if (returning.Length > 0)
        {
            sql.Append(" RETURNING ").AppendJoin(", ", returning);
        }

        return new ModelInsert<TEntity>(sql.ToString(), columns);
    }

    /// <summary>A command for <paramref name="entity"/> on the context's open connection and current transaction.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA2100", Justification = "The text is built from the EF Core model's table and column names only; every value is a parameter.")]
    public DbCommand CommandFor(DbContext context, TEntity entity)
    {
        var connection = context.Database.GetDbConnection();
        var command = connection.CreateCommand();
        command.CommandText = Sql;
        command.Transaction = context.Database.CurrentTransaction?.GetDbTransaction();
        foreach (var column in _columns)
        {
            // CreateParameter applies the mapping's value converter (e.g. the outbox status enum to its name).
            command.Parameters.Add(column.Mapping.CreateParameter(command, "", column.Property.GetValue(entity), column.Nullable));
        }

        return command;
    }

    private sealed record Column(string Name, PropertyInfo Property, RelationalTypeMapping Mapping, bool Nullable);
}

/// <summary>
/// The submission's two rows, written with <see cref="ModelInsert{TEntity}"/> inside the context's current
/// transaction: the lead (its database-assigned id and time read back onto it), then its outbox row.
/// </summary>
public static class SubmissionRows
{
    private static ModelInsert<Domain.Lead>? s_lead;
    private static ModelInsert<Domain.OutboxMessage>? s_outbox;

    public static ModelInsert<Domain.Lead> LeadInsert(IModel model) => s_lead ??= ModelInsert<Domain.Lead>.Create(model, "id", "created_at");

    public static ModelInsert<Domain.OutboxMessage> OutboxInsert(IModel model) => s_outbox ??= ModelInsert<Domain.OutboxMessage>.Create(model);

    /// <summary>Inserts <paramref name="lead"/> and sets its <c>Id</c> and <c>CreatedAt</c> from the database.</summary>
    public static async Task InsertLeadAsync(HermesDbContext context, Domain.Lead lead, CancellationToken cancellationToken)
    {
        await using var command = LeadInsert(context.Model).CommandFor(context, lead);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("The lead insert returned no row.");
        }

        lead.Id = reader.GetInt64(0);
        lead.CreatedAt = reader.GetFieldValue<DateTimeOffset>(1);
    }

    /// <summary>Inserts <paramref name="message"/>; its id, time and availability are the database's defaults.</summary>
    public static async Task InsertOutboxAsync(HermesDbContext context, Domain.OutboxMessage message, CancellationToken cancellationToken)
    {
        await using var command = OutboxInsert(context.Model).CommandFor(context, message);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
