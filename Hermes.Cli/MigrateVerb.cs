using System.CommandLine;
using Hermes.Persistence;
using Hermes.Persistence.Operations;
using Hermes.Persistence.Roles;
using Npgsql;

namespace Hermes.Cli;

/// <summary>
/// <c>migrate [--to &lt;migration&gt;] [--script] [--roles] [--dry-run] [--yes] [--allow-schema-loss]</c>: apply pending
/// migrations, move to a named one, or print the SQL for a DBA. Migrating up keeps every row and runs unattended (deploys
/// do it); rolling back drops what the rolled-back migrations made (<c>--to 0</c>: every table, every lead), so it is asked
/// for (<see cref="CliContext.ConfirmAsync"/>), and in Production refused without <c>--allow-schema-loss</c> as well.
/// </summary>
internal static class MigrateVerb
{
    private static readonly string[] Tables = ["hermes_leads", "hermes_outbox", "hermes_delivery_attempts"];

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
        var dryRun = CliOptions.DryRun("List the migrations that would be applied or rolled back, and the rows a roll-back would drop");
        var yes = CliOptions.Yes();
        var allowSchemaLoss = new Option<bool>("--allow-schema-loss")
        {
            Description = "In Production, allow a roll-back (--to an earlier migration or 0), which drops tables or columns and their data. Needed besides --yes.",
        };
        var json = CliOptions.Json();
        var command = new Command("migrate", "Apply the database migrations, roll back to a named one, or print them as SQL.")
        {
            to, script, roles, dryRun, yes, allowSchemaLoss, json,
        };
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
            var resolved = target is null ? null : ResolveTarget(migrator, target);
            var before = await migrator.AppliedAsync(ct);
            var plan = await PlanAsync(dataSource, migrator, resolved, before, ct);
            if (parse.GetValue(dryRun))
            {
                await PrintPlanAsync(context, plan, parse.GetValue(json));
                return ExitCodes.Ok;
            }

            if (plan.RollBack.Count > 0)
            {
                if (context.IsProduction && !parse.GetValue(allowSchemaLoss))
                {
                    await context.Error.WriteLineAsync(
                        $"Refused: rolling back {string.Join(", ", plan.RollBack)} drops tables or columns and their data, and the environment is " +
                        $"Production (DOTNET_ENVIRONMENT or ASPNETCORE_ENVIRONMENT; unset means Production). Add --allow-schema-loss (and --yes from a " +
                        "script) if that is what you mean; back up first (deploy/postgres/backup.sh). Nothing was changed.");
                    return ExitCodes.Problem;
                }

                if (await context.ConfirmAsync(parse.GetValue(yes), $"roll back {string.Join(", ", plan.RollBack)} on {context.Database}, dropping {Holdings(plan)}") is { } stop)
                {
                    return stop;
                }
            }

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
            // The audit entry: what this run applied or rolled back (none when the schema was already there); skipped
            // while the schema is below migration AuditTrail, which makes the table.
            await new AuditTrail(dataSource).AppendIfPresentAsync(AuditActor.ForCli(), AuditAction.Migrate, new()
            {
                ["applied"] = report.Applied.ToArray(),
                ["rolledBack"] = report.RolledBack.ToArray(),
                ["current"] = report.Current.Count == 0 ? null : report.Current[^1],
                ["roles"] = parse.GetValue(roles),
            }, ct);
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

    /// <summary>The migration <c>--to</c> names; an unknown one is a usage error (exit 2), listing the known ones.</summary>
    private static string ResolveTarget(HermesMigrator migrator, string target)
    {
        try
        {
            return migrator.Resolve(target);
        }
        catch (HermesConfigurationException e)
        {
            throw new CliUsageException(e.Message);
        }
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
        var resolved = target is null ? null : ResolveTarget(migrator, target);
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

    private static async Task<MigrationPlan> PlanAsync(
        NpgsqlDataSource dataSource, HermesMigrator migrator, string? target, IReadOnlyList<string> applied, CancellationToken cancellationToken)
    {
        var keep = target is null ? migrator.All.Count : target == HermesMigrator.Empty ? 0 : migrator.All.ToList().IndexOf(target) + 1;
        var wanted = migrator.All.Take(keep).ToList();
        IReadOnlyList<string> apply = [.. wanted.Except(applied, StringComparer.Ordinal)];
        IReadOnlyList<string> rollBack = [.. applied.Except(wanted, StringComparer.Ordinal).Reverse()];
        if (rollBack.Count == 0)
        {
            return new MigrationPlan(DryRun: true, target, apply, rollBack, null, null, null);
        }

        var counts = new long?[Tables.Length];
        for (var i = 0; i < Tables.Length; i++)
        {
            // to_regclass first: an earlier roll-back may have dropped the table already. The names are this class's own.
            await using var exists = dataSource.CreateCommand($"SELECT to_regclass('{Tables[i]}') IS NOT NULL");
            if ((bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
            {
                await using var count = dataSource.CreateCommand($"SELECT count(*) FROM {Tables[i]}");
                counts[i] = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            }
        }

        return new MigrationPlan(DryRun: true, target, apply, rollBack, counts[0], counts[1], counts[2]);
    }

    private static string Holdings(MigrationPlan plan) =>
        $"what they made; the schema holds {plan.Leads ?? 0} lead(s), {plan.OutboxRows ?? 0} outbox row(s) and {plan.AttemptLogs ?? 0} attempt log(s) now";

    private static async Task PrintPlanAsync(CliContext context, MigrationPlan plan, bool json)
    {
        if (json)
        {
            context.WriteJson(plan, CliJsonContext.Default.MigrationPlan);
            return;
        }

        foreach (var id in plan.Apply)
        {
            await context.Output.WriteLineAsync($"Would apply       {id}");
        }

        foreach (var id in plan.RollBack)
        {
            await context.Output.WriteLineAsync($"Would roll back   {id}");
        }

        if (plan.RollBack.Count > 0)
        {
            await context.Output.WriteLineAsync($"Rolling back drops {Holdings(plan)}.");
        }

        await context.Output.WriteLineAsync(plan.Apply.Count + plan.RollBack.Count == 0
            ? "Nothing to do (dry run: nothing was changed)."
            : "Dry run: nothing was changed.");
    }
}
