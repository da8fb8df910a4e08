using System.CommandLine;
using System.CommandLine.Help;

namespace Hermes.Cli;

/// <summary>
/// The operator verbs of the <c>hermes</c> command: migrate, replay, purge, doctor, erase, seed, stats. Each has
/// <c>--help</c>, prints for a person by default and JSON with <c>--json</c>, and returns one of <see cref="ExitCodes"/>.
/// They call the same operations (<c>Hermes.Persistence.Operations</c>) as the admin API.
/// </summary>
public static class OperatorCli
{
    public static Task<int> RunAsync(string[] args) =>
        RunAsync(args, Console.Out, Console.Error, settings: null, CancellationToken.None, CliTerminal.OfProcess());

    /// <summary>
    /// Runs one verb writing to <paramref name="output"/> and <paramref name="error"/>; <paramref name="settings"/> override
    /// the configuration; <paramref name="terminal"/> is the keyboard and screen, if any (none unless given).
    /// </summary>
    internal static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, IEnumerable<KeyValuePair<string, string?>>? settings, CancellationToken cancellationToken,
        CliTerminal? terminal = null)
    {
        var context = new CliContext(output, error, settings, terminal ?? CliTerminal.None);
        var root = new RootCommand(
            "hermes: the Hermes operator CLI. " +
            "Exit codes: 0 ok, 1 problem found or refused, 2 usage error, 3 database unreachable or statement failed, 78 configuration refused (database setting missing or malformed).")
        {
            MigrateVerb.Create(context),
            ReplayVerb.Create(context),
            PurgeVerb.Create(context),
            DoctorVerb.Create(context),
            EraseVerb.Create(context),
            SeedVerb.Create(context),
            StatsVerb.Create(context),
            LocalPostgresVerb.Create(context),
        };

        var parse = root.Parse(args is ["help", .. var rest] ? [.. rest, "--help"] : args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            foreach (var parseError in parse.Errors)
            {
                await error.WriteLineAsync(parseError.Message);
            }

            var verb = parse.CommandResult.Command == root ? "" : " " + parse.CommandResult.Command.Name;
            await error.WriteLineAsync($"Run '{root.Name}{verb} --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
    }
}
