using System.CommandLine;
using Hermes.Domain;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary>
/// <c>replay</c>: put chosen outbox rows back to pending (see <see cref="OutboxReplay"/>), asked for on a terminal
/// (<see cref="CliContext.ConfirmAsync"/>) when any row matches: n8n receives them again.
/// </summary>
internal static class ReplayVerb
{
    public static Command Create(CliContext context)
    {
        var status = new Option<string>("--status")
        {
            Description = "Replay rows in this status.",
            DefaultValueFactory = static _ => OutboxStatusNames.Failed,
        };
        status.AcceptOnlyFromAmong([.. ReplayRequest.ReplayableStatuses]);
        var leads = new Option<string[]>("--lead")
        {
            Description = "Only this lead's rows (its public id, lead_…); repeat for several leads.",
            HelpName = "leadId",
            Arity = ArgumentArity.OneOrMore,
        };
        var since = CliOptions.Instant("--since", "Only rows created at or after this time");
        var until = CliOptions.Instant("--until", "Only rows created before this time");
        var dryRun = CliOptions.DryRun("Count and list the rows that would be replayed");
        var yes = CliOptions.Yes();
        var json = CliOptions.Json();
        var command = new Command(
            "replay",
            "Reset outbox rows to pending (attempts zeroed, replay_count raised) and their leads to queued, and wake the workers. " +
            "Erased leads are never replayed.")
        {
            status, leads, since, until, dryRun, yes, json,
        };
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            var request = new ReplayRequest
            {
                Status = parse.GetValue(status)!,
                LeadIds = parse.GetValue(leads) ?? [],
                Since = parse.GetValue(since),
                Until = parse.GetValue(until),
                DryRun = parse.GetValue(dryRun),
            };
            var errors = request.Validate();
            if (errors.Count > 0)
            {
                foreach (var (field, messages) in errors)
                {
                    await context.Error.WriteLineAsync($"--{field}: {string.Join(" ", messages)}");
                }

                return ExitCodes.Usage;
            }

            await using var dataSource = context.CreateDataSource();
            var replay = new OutboxReplay(dataSource);
            long? expected = null;
            if (!request.DryRun && !parse.GetValue(yes))
            {
                var plan = await replay.ReplayAsync(request with { DryRun = true }, ct);
                expected = plan.Count;
                if (plan.Count > 0 && await context.ConfirmAsync(
                    yes: false,
                    $"replay {plan.Count} {plan.Status} outbox row(s) of {CliContext.List(plan.LeadIds, plan.Count)}: n8n receives them again") is { } stop)
                {
                    return stop;
                }
            }

            // One statement: no rows to count while it runs, so the line shows the time passed (batches would change what
            // a replay is, one atomic decision over the chosen rows).
            var progress = request.DryRun ? null : CliProgress.For(context, parse.GetValue(json), "replay", expected);
            using var ticking = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var ticker = progress?.TickAsync(ticking.Token) ?? Task.CompletedTask;
            ReplayResult result;
            try
            {
                result = await replay.ReplayAsync(request, ct, AuditActor.ForCli());
            }
            finally
            {
                await ticking.CancelAsync();
                await ticker;
            }

            progress?.Complete(result.Count);
            if (parse.GetValue(json))
            {
                context.WriteJson(result, OperationsJsonContext.Default.ReplayResult);
                return ExitCodes.Ok;
            }

            var rows = result.Count == 1 ? "row" : "rows";
            await context.Output.WriteLineAsync(result.DryRun
                ? $"Would replay {result.Count} {result.Status} outbox {rows} (dry run: nothing was changed)."
                : result.Count == 0
                    ? $"No {result.Status} outbox row matched; nothing was replayed."
                    : $"Replayed {result.Count} {result.Status} outbox {rows}: back to pending, their leads queued; the workers were woken (NOTIFY hermes_outbox).");
            foreach (var leadId in result.LeadIds)
            {
                await context.Output.WriteLineAsync($"  {leadId}");
            }

            if (result.Count > result.LeadIds.Count)
            {
                await context.Output.WriteLineAsync($"  … and {result.Count - result.LeadIds.Count} more");
            }

            return ExitCodes.Ok;
        }, cancellationToken));
        return command;
    }
}
