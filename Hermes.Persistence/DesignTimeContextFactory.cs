using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Npgsql;

namespace Hermes.Persistence;

/// <summary>
/// How <c>dotnet ef</c> makes a context: from <c>DATABASE_URL</c> (or <c>ConnectionStrings__Hermes</c>) when set, else
/// a placeholder connection that is never opened — <c>migrations add</c>, <c>migrations list</c>,
/// <c>migrations script</c> and <c>has-pending-model-changes</c> need no running database or host.
/// </summary>
public sealed class DesignTimeContextFactory : IDesignTimeDbContextFactory<HermesDbContext>
{
    public HermesDbContext CreateDbContext(string[] args)
    {
        var url = Environment.GetEnvironmentVariable("DATABASE_URL");
        var connectionString = !string.IsNullOrWhiteSpace(url) ? DatabaseUrl.Parse(url).ConnectionString
            : Environment.GetEnvironmentVariable("ConnectionStrings__Hermes") is { Length: > 0 } cs ? cs
            : "Host=localhost;Database=hermes;Username=hermes";
        var dataSource = new NpgsqlDataSourceBuilder(connectionString).Build();
        return PersistenceExtensions.CreateContext(dataSource);
    }
}
