using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence;

/// <summary>
/// Applies the hand-written migrations: all pending ones, or up or down to a named one. EF Core takes a
/// database lock while migrating, so several containers starting at once do not race.
/// </summary>
public sealed class HermesMigrator(HermesDbContext context)
{
    /// <summary>The name that means "before the first migration": migrating to it removes the schema.</summary>
    public const string Empty = "0";

    /// <summary>Every migration id in order, e.g. <c>20261122000100_InitialSchema</c> (<see cref="MigrationHistory.All"/>).</summary>
    public IReadOnlyList<string> All => MigrationHistory.All;

    public string Latest => All[^1];

    public async Task<IReadOnlyList<string>> AppliedAsync(CancellationToken cancellationToken) =>
        [.. await context.Database.GetAppliedMigrationsAsync(cancellationToken)];

    public async Task<IReadOnlyList<string>> PendingAsync(CancellationToken cancellationToken) =>
        [.. await context.Database.GetPendingMigrationsAsync(cancellationToken)];

    /// <summary>Migrates to <paramref name="target"/> (an id, a name like <c>InitialSchema</c>, or <see cref="Empty"/>), or to the latest when null.</summary>
    public async Task MigrateAsync(string? target, CancellationToken cancellationToken)
    {
        var resolved = target is null ? null : Resolve(target);
        await context.GetService<IMigrator>().MigrateAsync(resolved, cancellationToken);
    }

    /// <summary>An idempotent SQL script from <paramref name="from"/> (default: nothing) to <paramref name="to"/> (default: the latest), for a DBA to run.</summary>
    public string Script(string? from = null, string? to = null) =>
        context.GetService<IMigrator>().GenerateScript(
            from is null ? null : Resolve(from),
            to is null ? null : Resolve(to),
            MigrationsSqlGenerationOptions.Idempotent);

    /// <summary>Finds a migration by id or by name; throws with the list of known ones when there is none.</summary>
    public string Resolve(string nameOrId)
    {
        if (nameOrId == Empty)
        {
            return Empty;
        }

        var match = All.FirstOrDefault(m => string.Equals(m, nameOrId, StringComparison.OrdinalIgnoreCase))
            ?? All.FirstOrDefault(m => string.Equals(m[(m.IndexOf('_', StringComparison.Ordinal) + 1)..], nameOrId, StringComparison.OrdinalIgnoreCase));
        return match ?? throw new HermesConfigurationException(
            $"There is no migration '{nameOrId}'. Known migrations: {string.Join(", ", All)}, or {Empty} for none.");
    }
}
