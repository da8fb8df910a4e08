using System.Diagnostics.CodeAnalysis;
using Npgsql;

namespace Hermes.Persistence.Roles;

/// <summary>
/// The least-privilege group roles of <c>deploy/postgres/roles.sql</c> (embedded in this assembly): <c>hermes_api</c>,
/// <c>hermes_worker</c> and <c>hermes_admin</c>, all NOLOGIN. Applied by <c>migrate --roles</c> after migrating, as the
/// login that owns the tables; login users with passwords are created outside the script and made members.
/// </summary>
public static class DatabaseRoles
{
    public const string Api = "hermes_api";
    public const string Worker = "hermes_worker";
    public const string Admin = "hermes_admin";

    /// <summary>The script's text, exactly as <c>deploy/postgres/roles.sql</c>.</summary>
    public static string Script
    {
        get
        {
            using var stream = typeof(DatabaseRoles).Assembly.GetManifestResourceStream("Hermes.Persistence.Roles.roles.sql")
                ?? throw new InvalidOperationException("The embedded roles.sql is missing from Hermes.Persistence.");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    /// <summary>Creates the group roles when missing and sets their grants on the migrated tables, in one transaction.</summary>
    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "The embedded script only; it takes no input.")]
    public static async Task ApplyAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(Script, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }
}
