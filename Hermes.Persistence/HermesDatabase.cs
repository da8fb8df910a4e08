using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Hermes.Persistence;

/// <summary>
/// Where the database is, resolved once from configuration: <c>DATABASE_URL</c> (URL form) or
/// <c>ConnectionStrings:Hermes</c> (Npgsql form). For <c>LISTEN</c>, which a transaction-pooling PgBouncer
/// cannot carry, a direct connection may be given as <c>DATABASE_DIRECT_URL</c> (the seeds'
/// <c>POSTGRES_URL_NON_POOLING</c> is read too) or <c>ConnectionStrings:HermesDirect</c>.
/// </summary>
public sealed record HermesDatabase(string ConnectionString, string? DirectConnectionString, bool IsTransactionPooled)
{
    public const string UrlKey = "DATABASE_URL";
    public const string ConnectionStringKey = "ConnectionStrings:Hermes";
    public const string DirectUrlKey = "DATABASE_DIRECT_URL";
    public const string NonPoolingUrlKey = "POSTGRES_URL_NON_POOLING";
    public const string DirectConnectionStringKey = "ConnectionStrings:HermesDirect";

    /// <summary>Reads the settings; throws <see cref="HermesConfigurationException"/> naming the keys when they are missing or malformed.</summary>
    public static HermesDatabase FromConfiguration(IConfiguration configuration, string? applicationName = null)
    {
        var main = Resolve(configuration, UrlKey, ConnectionStringKey)
            ?? throw new HermesConfigurationException(
                $"No database is configured: set {UrlKey} (postgres://user:password@host:5432/database) or {ConnectionStringKey} " +
                "(environment variable ConnectionStrings__Hermes, Npgsql form: Host=...;Database=...;Username=...).");
        var direct = Resolve(configuration, DirectUrlKey, DirectConnectionStringKey)
            ?? (string.IsNullOrWhiteSpace(configuration[NonPoolingUrlKey]) ? null : Parse(configuration[NonPoolingUrlKey]!, NonPoolingUrlKey));

        if (applicationName is not null)
        {
            main.ApplicationName ??= applicationName;
            direct?.ApplicationName ??= applicationName;
        }

        var pooled = DatabaseUrl.IsTransactionPooled(main);
        if (!pooled)
        {
            ApplyDirectDefaults(main);
        }

        // Without PgBouncer in between, the main connection can LISTEN too.
        var listen = direct?.ConnectionString ?? (pooled ? null : main.ConnectionString);
        return new HermesDatabase(main.ConnectionString, listen, pooled);
    }

    /// <summary>Automatic statement preparation on a direct connection, unless the connection string says otherwise.</summary>
    public const int DirectMaxAutoPrepare = 20;

    /// <summary>
    /// On a direct connection (no PgBouncer in between, which is the only place session state cannot be trusted)
    /// Hermes' handful of statements are prepared once per physical connection (<c>Max Auto Prepare=20</c>), and a
    /// connection going back to the pool is not reset (<c>No Reset On Close=true</c>): Hermes keeps no session state
    /// (transaction-scoped <c>SET LOCAL</c> only; the worker's <c>LISTEN</c> has a connection of its own, outside the
    /// pool). Measured: about 40% less PostgreSQL CPU per submission (bench/RESULTS.md). A value given in the
    /// connection string wins.
    /// </summary>
    internal static void ApplyDirectDefaults(NpgsqlConnectionStringBuilder builder)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = builder.ConnectionString };
        if (!given.ContainsKey("Max Auto Prepare"))
        {
            builder.MaxAutoPrepare = DirectMaxAutoPrepare;
        }

        if (!given.ContainsKey("No Reset On Close"))
        {
            builder.NoResetOnClose = true;
        }
    }

    /// <summary>The connection string without its password, for logs and health output.</summary>
    public static string Redact(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.Password is not null)
        {
            builder.Password = "***";
        }

        return $"{builder.Host}:{builder.Port}/{builder.Database} as {builder.Username}";
    }

    public override string ToString() => Redact(ConnectionString);

    private static NpgsqlConnectionStringBuilder? Resolve(IConfiguration configuration, string urlKey, string connectionStringKey)
    {
        var url = configuration[urlKey];
        if (!string.IsNullOrWhiteSpace(url))
        {
            return Parse(url, urlKey);
        }

        var connectionString = configuration[connectionStringKey];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return null;
        }

        // A URL pasted into the connection-string key is understood too.
        if (connectionString.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || connectionString.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return Parse(connectionString, connectionStringKey);
        }

        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new HermesConfigurationException($"{connectionStringKey} is not a valid Npgsql connection string: {e.Message}");
        }
    }

    private static NpgsqlConnectionStringBuilder Parse(string url, string key) => DatabaseUrl.Parse(url, key);
}
