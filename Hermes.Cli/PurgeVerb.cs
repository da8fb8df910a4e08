using System.CommandLine;
using System.Globalization;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Cli;

/// <summary>
/// <c>purge [--older-than &lt;duration&gt;] [--dry-run] [--yes]</c>: retention by hand (see <see cref="OutboxPurge"/>),
/// asked for on a terminal (<see cref="CliContext.ConfirmAsync"/>) when there is anything to delete.
/// </summary>
internal static class PurgeVerb
{
    // What OutboxPurge's two statements would delete, counted without locks: delivered rows past retention with their
    // attempt logs, and attempt logs past retention except those of failed rows. The first ids show what is meant.
    private const string PlanSql = $"""
        WITH doomed AS (
            SELECT id FROM hermes_outbox WHERE status = '{OutboxStatusNames.Delivered}' AND delivered_at < now() - @retention
        )
        SELECT (SELECT count(*) FROM doomed),
               (SELECT count(*) FROM hermes_delivery_attempts a
                WHERE a.outbox_id IN (SELECT id FROM doomed)
                   OR (a.started_at < now() - @retention
                       AND NOT EXISTS (SELECT 1 FROM hermes_outbox o WHERE o.id = a.outbox_id AND o.status = '{OutboxStatusNames.Failed}'))),
               ARRAY(SELECT id FROM doomed ORDER BY id LIMIT @listed)
        """;

    public static Command Create(CliContext context)
    {
        var olderThan = CliOptions.Duration("--older-than", OutboxPurge.DefaultRetention, "Delete what is older than this");
        var dryRun = CliOptions.DryRun("Count what would be deleted and list the first outbox row ids");
        var yes = CliOptions.Yes();
        var json = CliOptions.Json();
        var command = new Command(
            "purge",
            "Delete delivered outbox rows and attempt logs older than the retention period. Leads are never purged; " +
            "attempt logs of failed rows are kept.")
        {
            olderThan, dryRun, yes, json,
        };
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            var retention = parse.GetValue(olderThan);
            await using var dataSource = context.CreateDataSource();
            var watched = !parse.GetValue(json) && context.Terminal.ErrorIsTerminal;
            PurgePlan? plan = null;
            if (parse.GetValue(dryRun) || !parse.GetValue(yes) || watched)
            {
                // Also the total of the progress line when someone watches.
                plan = await PlanAsync(dataSource, retention, ct);
                if (parse.GetValue(dryRun))
                {
                    await PrintPlanAsync(context, plan, parse.GetValue(json));
                    return ExitCodes.Ok;
                }

                if (plan.OutboxRows + plan.AttemptLogs == 0)
                {
                    return await PrintResultAsync(context, new PurgeResult(retention, 0, 0), parse.GetValue(json));
                }

                if (await context.ConfirmAsync(
                    parse.GetValue(yes),
                    $"delete {plan.OutboxRows} delivered outbox row(s) and {plan.AttemptLogs} attempt log(s) older than {OperatorTime.Format(retention)} for good") is { } stop)
                {
                    return stop;
                }
            }

            var progress = CliProgress.For(context, parse.GetValue(json), "purge", plan?.OutboxRows + plan?.AttemptLogs);
            var result = await new OutboxPurge(dataSource).PurgeAsync(retention, ct, progress, AuditActor.ForCli());
            progress?.Complete(result.OutboxRows + result.AttemptLogs);
            return await PrintResultAsync(context, result, parse.GetValue(json));
        }, cancellationToken));
        return command;
    }

    private static async Task<PurgePlan> PlanAsync(NpgsqlDataSource dataSource, TimeSpan retention, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(PlanSql);
        command.Parameters.Add(new NpgsqlParameter("retention", NpgsqlDbType.Interval) { Value = retention });
        command.Parameters.Add(new NpgsqlParameter("listed", NpgsqlDbType.Integer) { Value = CliOptions.Listed });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new PurgePlan(DryRun: true, retention, reader.GetInt64(0), reader.GetInt64(1), reader.GetFieldValue<long[]>(2));
    }

    private static async Task PrintPlanAsync(CliContext context, PurgePlan plan, bool json)
    {
        if (json)
        {
            context.WriteJson(plan, CliJsonContext.Default.PurgePlan);
            return;
        }

        await context.Output.WriteLineAsync(
            $"Would purge {plan.OutboxRows} delivered outbox {(plan.OutboxRows == 1 ? "row" : "rows")} and {plan.AttemptLogs} attempt " +
            $"{(plan.AttemptLogs == 1 ? "log" : "logs")} older than {OperatorTime.Format(plan.OlderThan)} (dry run: nothing was changed).");
        if (plan.OutboxIds.Count > 0)
        {
            await context.Output.WriteLineAsync(
                $"  outbox ids: {CliContext.List([.. plan.OutboxIds.Select(static id => id.ToString(CultureInfo.InvariantCulture))], plan.OutboxRows)}");
        }
    }

    private static async Task<int> PrintResultAsync(CliContext context, PurgeResult result, bool json)
    {
        if (json)
        {
            context.WriteJson(result, OperationsJsonContext.Default.PurgeResult);
        }
        else if (result.OutboxRows + result.AttemptLogs == 0)
        {
            await context.Output.WriteLineAsync($"Nothing to purge: no delivered outbox row or attempt log is older than {OperatorTime.Format(result.OlderThan)}.");
        }
        else
        {
            await context.Output.WriteLineAsync(
                $"Purged {result.OutboxRows} delivered outbox rows and {result.AttemptLogs} attempt logs older than {OperatorTime.Format(result.OlderThan)}. Leads are never purged.");
        }

        return ExitCodes.Ok;
    }
}
