using System.CommandLine;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary><c>stats</c>: the outbox at a glance (see <see cref="OutboxStatistics"/>).</summary>
internal static class StatsVerb
{
    public static Command Create(CliContext context)
    {
        var json = CliOptions.Json();
        var command = new Command("stats", "Outbox rows per status, the age of the oldest pending row, deliveries and failures in the last hour.") { json };
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            await using var dataSource = context.CreateDataSource();
            var stats = await new OutboxStatistics(dataSource).ReadAsync(ct);
            if (parse.GetValue(json))
            {
                context.WriteJson(stats, OperationsJsonContext.Default.OutboxStats);
                return ExitCodes.Ok;
            }

            var c = stats.Counts;
            var o = context.Output;
            await o.WriteLineAsync($"Outbox at {stats.At:u}");
            await o.WriteLineAsync($"  pending    {c.Pending,9}  ({c.InFlight} being delivered now)");
            await o.WriteLineAsync($"  delivered  {c.Delivered,9}");
            await o.WriteLineAsync($"  failed     {c.Failed,9}{(c.Failed > 0 ? "  → replay --status failed" : "")}");
            await o.WriteLineAsync($"  cancelled  {c.Cancelled,9}");
            await o.WriteLineAsync(stats.OldestPendingAgeSeconds is { } age
                ? $"Oldest pending row: {OperatorTime.Format(TimeSpan.FromSeconds(age))} old (created {stats.OldestPendingCreatedAt:u})"
                : "Oldest pending row: none pending");
            await o.WriteLineAsync($"Last hour: {stats.DeliveredLastHour} delivered, {stats.FailedAttemptsLastHour} failed attempts, {stats.GaveUpLastHour} gave up");
            return ExitCodes.Ok;
        }, cancellationToken));
        return command;
    }
}
