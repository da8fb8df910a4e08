using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

namespace Hermes.Persistence;

/// <summary>
/// The migrations compiled into this assembly and the ones a database has applied, read without EF Core's services
/// or model: what the health probes ask on every call. <see cref="HermesMigrator"/> answers the same through EF Core,
/// whose service provider, model and migrations machinery cost a host that does not otherwise use EF Core (the
/// worker) about 30 MiB of resident memory from its first readiness probe on (bench/RESULTS.md, "Memory").
/// </summary>
public static class MigrationHistory
{
    /// <summary>EF Core's history table (its default name, in the connection's first schema, as EF Core itself finds it).</summary>
    public const string Table = "__EFMigrationsHistory";

    /// <summary>Every migration id in order, as EF Core orders them (by id).</summary>
    public static IReadOnlyList<string> All { get; } = Compiled();

    [UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode",
        Justification = "ILLink.Descriptors.xml keeps the migration types; MigrationHistoryTests hold the list to EF Core's, NativeWorkerTests check readiness in the native build.")]
    private static string[] Compiled() => [.. typeof(HermesDbContext).Assembly.GetTypes()
        .Where(static t => t.GetCustomAttribute<DbContextAttribute>()?.ContextType == typeof(HermesDbContext))
        .Select(static t => t.GetCustomAttribute<MigrationAttribute>()?.Id)
        .OfType<string>()
        .Order(StringComparer.Ordinal)];

    /// <summary>The applied migration ids in order; none when the history table does not exist yet.</summary>
    public static async Task<IReadOnlyList<string>> AppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""SELECT "MigrationId" FROM "{Table}" """, connection);
        var applied = new List<string>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetString(0));
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // A database that was never migrated.
        }

        // In C#, by ordinal: the database's collation has no say in the order.
        applied.Sort(StringComparer.Ordinal);
        return applied;
    }
}
