using System.CommandLine;
using System.Globalization;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary><c>seed --count N</c>: realistic fake leads for staging and benchmarks (see <see cref="LeadSeeder"/>); refused in Production.</summary>
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
        var json = CliOptions.Json();
        var command = new Command(
            "seed",
            "Write realistic fake leads, each with a pending outbox row, the way the API writes them (source hermes-seed, example.com addresses). " +
            "Refused in Production: set DOTNET_ENVIRONMENT to Development or Staging.")
        {
            count, json,
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

            await using var dataSource = context.CreateDataSource();
            var result = await new LeadSeeder(dataSource).SeedAsync(parse.GetValue(count), ct);
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
