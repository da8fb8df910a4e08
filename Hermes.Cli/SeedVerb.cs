using System.CommandLine;
using System.Globalization;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary>
/// <c>seed --count N [--dry-run] [--yes]</c>: realistic fake leads for staging and benchmarks (see <see cref="LeadSeeder"/>);
/// refused in Production. It deletes nothing, but it is asked for like the verbs that do
/// (<see cref="CliContext.ConfirmAsync"/>): up to a million rows land in whatever database the settings name, and each
/// one's pending outbox row goes to the n8n webhook of any worker running on it.
/// </summary>
internal static class SeedVerb
{
    public static Command Create(CliContext context)
    {
        var count = new Option<int>("--count")
        {
            Description = $"How many leads to write (1 to {LeadSeeder.MaxCount}).",
            HelpName = "N",
            Required = true,
            CustomParser = static result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= LeadSeeder.MaxCount)
                {
                    return value;
                }

                result.AddError($"--count must be a whole number from 1 to {LeadSeeder.MaxCount}, not '{text}'.");
                return 0;
            },
        };
        var dryRun = CliOptions.DryRun("Say how many leads would be written, where");
        var yes = CliOptions.Yes();
        var json = CliOptions.Json();
        var command = new Command(
            "seed",
            "Write realistic fake leads, each with a pending outbox row, the way the API writes them (source hermes-seed, example.com addresses). " +
            "Refused in Production: set DOTNET_ENVIRONMENT to Development or Staging.")
        {
            count, dryRun, yes, json,
        };
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            var environment = context.EnvironmentName;
            if (!LeadSeeder.IsAllowedIn(environment))
            {
                await context.Error.WriteLineAsync(
                    $"Refused: the environment is {environment}, and seed never writes fake leads there. " +
                    "Set DOTNET_ENVIRONMENT (or ASPNETCORE_ENVIRONMENT) to Development or Staging on a database meant for it.");
                return ExitCodes.Problem;
            }

            var leads = parse.GetValue(count);
            var database = context.Database.ToString();
            if (parse.GetValue(dryRun))
            {
                if (parse.GetValue(json))
                {
                    context.WriteJson(new SeedPlan(DryRun: true, leads, environment, database), CliJsonContext.Default.SeedPlan);
                }
                else
                {
                    await context.Output.WriteLineAsync($"Would write {leads} fake leads, each with a pending outbox row, into {database} ({environment}) (dry run: nothing was written).");
                }

                return ExitCodes.Ok;
            }

            if (await context.ConfirmAsync(
                parse.GetValue(yes),
                $"write {leads} fake leads into {database} ({environment}), each with a pending outbox row that any running worker delivers to its n8n webhook") is { } stop)
            {
                return stop;
            }

            await using var dataSource = context.CreateDataSource();
            var progress = CliProgress.For(context, parse.GetValue(json), "seed", leads);
            var result = await new LeadSeeder(dataSource).SeedAsync(leads, ct, progress: progress, actor: AuditActor.ForCli());
            progress?.Complete(result.Leads);
            if (parse.GetValue(json))
            {
                context.WriteJson(result, OperationsJsonContext.Default.SeedResult);
            }
            else
            {
                await context.Output.WriteLineAsync(
                    $"Seeded {result.Leads} leads (backup ids {result.FirstBackupId}–{result.LastBackupId}), each with a pending outbox row, in {result.Seconds:0.0} s ({environment}).");
            }

            return ExitCodes.Ok;
        }, cancellationToken));
        return command;
    }
}
