using System.CommandLine;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary><c>purge [--older-than &lt;duration&gt;]</c>: retention by hand (see <see cref="OutboxPurge"/>).</summary>
internal static class PurgeVerb
{
    public static Command Create(CliContext context)
    {
        var olderThan = CliOptions.Duration("--older-than", OutboxPurge.DefaultRetention, "Delete what is older than this");
        var json = CliOptions.Json();
        var command = new Command(
            "purge",
            "Delete delivered outbox rows and attempt logs older than the retention period. Leads are never purged; " +
            "attempt logs of failed rows are kept.")
        {
            olderThan, json,
        };
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            await using var dataSource = context.CreateDataSource();
            var result = await new OutboxPurge(dataSource).PurgeAsync(parse.GetValue(olderThan), ct);
            if (parse.GetValue(json))
            {
                context.WriteJson(result, OperationsJsonContext.Default.PurgeResult);
            }
            else
            {
                await context.Output.WriteLineAsync(
                    $"Purged {result.OutboxRows} delivered outbox rows and {result.AttemptLogs} attempt logs older than {OperatorTime.Format(result.OlderThan)}. Leads are never purged.");
            }

            return ExitCodes.Ok;
        }, cancellationToken));
        return command;
    }
}
