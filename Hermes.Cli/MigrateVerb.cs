using System.CommandLine;
using Hermes.Persistence;
using Hermes.Persistence.Roles;
using Npgsql;

namespace Hermes.Cli;

/// <summary><c>migrate [--to &lt;migration&gt;] [--script] [--roles]</c>: apply pending migrations, move to a named one, or print the SQL for a DBA.</summary>
internal static class MigrateVerb
{
    public static Command Create(CliContext context)
    {
        var to = new Option<string?>("--to")
        {
            Description = $"Migrate up or down to this migration (its id, like 20261122000100_InitialSchema, or its name, like InitialSchema; {HermesMigrator.Empty} removes the schema). Default: the latest.",
            HelpName = "migration",
        };
        var script = new Option<bool>("--script") { Description = "Print the idempotent SQL script (from nothing to --to or the latest) instead of running it; needs no database." };
        var roles = new Option<bool>("--roles")
        {
            Description = "After migrating, create the group roles hermes_api, hermes_worker, hermes_admin (NOLOGIN) and set their least-privilege grants (deploy/postgres/roles.sql); needs CREATEROLE.",
        };
        var json = CliOptions.Json();
        var command = new Command("migrate", "Apply the database migrations, roll back to a named one, or print them as SQL.") { to, script, roles, json };
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            var target = parse.GetValue(to);
            if (parse.GetValue(script))
            {
                return PrintScript(context, target, parse.GetValue(json));
            }

            await using var dataSource = context.CreateDataSource(direct: true);
            await using var db = PersistenceExtensions.CreateContext(dataSource);
            var migrator = new HermesMigrator(db);
            var resolved = target is null ? null : migrator.Resolve(target);
            var before = await migrator.AppliedAsync(ct);
            await migrator.MigrateAsync(resolved, ct);
            var after = await migrator.AppliedAsync(ct);
            if (parse.GetValue(roles))
            {
                await DatabaseRoles.ApplyAsync(dataSource, ct);
                if (!parse.GetValue(json))
                {
                    await context.Output.WriteLineAsync($"Roles       {DatabaseRoles.Api}, {DatabaseRoles.Worker}, {DatabaseRoles.Admin} granted (deploy/postgres/roles.sql).");
                }
            }

            var report = new MigrationReport(
                resolved, [.. after.Except(before, StringComparer.Ordinal)], [.. before.Except(after, StringComparer.Ordinal).Reverse()], after, migrator.Latest);
            if (parse.GetValue(json))
            {
                context.WriteJson(report, CliJsonContext.Default.MigrationReport);
                return ExitCodes.Ok;
            }

            foreach (var id in report.Applied)
            {
                await context.Output.WriteLineAsync($"Applied     {id}");
            }

            foreach (var id in report.RolledBack)
            {
                await context.Output.WriteLineAsync($"Rolled back {id}");
            }

            await context.Output.WriteLineAsync(report.Applied.Count + report.RolledBack.Count == 0
                ? $"The schema is already at {(report.Current.Count == 0 ? "no migration" : report.Current[^1])}; nothing to do."
                : $"The schema is now at {(report.Current.Count == 0 ? "no migration" : report.Current[^1])}.");
            return ExitCodes.Ok;
        }, cancellationToken));
        return command;
    }

    private static int PrintScript(CliContext context, string? target, bool json)
    {
        // Scripting needs the model, not a server: without database settings a placeholder that is never opened will do.
        string connectionString;
        try
        {
            connectionString = context.Database.ConnectionString;
        }
        catch (HermesConfigurationException)
        {
            connectionString = "Host=localhost";
        }

        using var dataSource = NpgsqlDataSource.Create(connectionString);
        using var db = PersistenceExtensions.CreateContext(dataSource);
        var migrator = new HermesMigrator(db);
        var resolved = target is null ? null : migrator.Resolve(target);
        var sql = migrator.Script(to: resolved);
        if (json)
        {
            context.WriteJson(new MigrationScript(resolved, sql), CliJsonContext.Default.MigrationScript);
        }
        else
        {
            context.Output.Write(sql);
        }

        return ExitCodes.Ok;
    }
}
