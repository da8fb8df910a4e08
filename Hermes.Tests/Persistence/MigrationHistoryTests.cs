using Hermes.Persistence;
using Hermes.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Hermes.Tests.Persistence;

/// <summary>
/// <see cref="MigrationHistory"/>, which the health probes read instead of EF Core, says what EF Core's own migrator
/// says: the same migrations in the same order, the same applied ones on a current, a partly migrated and a never
/// migrated database.
/// </summary>
public sealed class MigrationHistoryTests : DatabaseTest
{
    [Test]
    public async Task Lists_the_migrations_and_the_applied_ones_as_ef_core_does()
    {
        await using var context = CreateContext();
        var migrator = new HermesMigrator(context);

        Assert.That(MigrationHistory.All, Is.EqualTo(context.Database.GetMigrations()).And.Not.Empty);
        Assert.That(await AppliedAsync(), Is.EqualTo(await migrator.AppliedAsync(CancellationToken.None)).And.EqualTo(context.Database.GetMigrations()));
    }

    [Test]
    public async Task A_missing_history_row_is_pending_for_both()
    {
        var latest = MigrationHistory.All[^1];
        await ExecuteAsync($"DELETE FROM \"{MigrationHistory.Table}\" WHERE \"MigrationId\" = $1", latest);
        try
        {
            await using var context = CreateContext();
            var applied = await AppliedAsync();
            Assert.That(applied, Is.EqualTo(await new HermesMigrator(context).AppliedAsync(CancellationToken.None)));
            Assert.That(MigrationHistory.All.Except(applied), Is.EqualTo(new[] { latest }));
        }
        finally
        {
            await ExecuteAsync($"INSERT INTO \"{MigrationHistory.Table}\" (\"MigrationId\", \"ProductVersion\") VALUES ($1, '10.0.0')", latest);
        }
    }

    [Test]
    public async Task A_database_without_the_history_table_has_applied_none()
    {
        await ExecuteAsync($"ALTER TABLE \"{MigrationHistory.Table}\" RENAME TO test_history_away");
        try
        {
            Assert.That(await AppliedAsync(), Is.Empty);
        }
        finally
        {
            await ExecuteAsync($"ALTER TABLE test_history_away RENAME TO \"{MigrationHistory.Table}\"");
        }
    }

    private async Task<IReadOnlyList<string>> AppliedAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        return await MigrationHistory.AppliedAsync(connection, CancellationToken.None);
    }
}
