using System.Diagnostics.CodeAnalysis;
using Hermes.Outbox.Worker.Cli;

namespace Hermes.Outbox.Worker;

/// <summary>
/// The worker's executable: <c>run</c> (the default) hosts the outbox dispatcher; every other verb is an
/// operator command (see <see cref="OperatorCli"/>). The native build (<c>dotnet publish -p:HermesNative=true</c>,
/// Native AOT) is the dispatcher alone: its operator verbs stay in the .NET build, because EF Core's migrations
/// and runtime model, which <c>migrate</c>, <c>seed</c> and <c>doctor</c> use, do not run ahead-of-time compiled.
/// </summary>
public static class Program
{
    /// <summary>The feature switch the native build turns off (Hermes.Outbox.Worker.csproj), so that the compiler leaves the verbs out.</summary>
    public const string OperatorVerbsSwitch = "Hermes.Outbox.Worker.OperatorVerbs";

    /// <summary>False in the native build: the executable runs the dispatcher and nothing else.</summary>
    [FeatureSwitchDefinition(OperatorVerbsSwitch)]
    public static bool HasOperatorVerbs => !AppContext.TryGetSwitch(OperatorVerbsSwitch, out var enabled) || enabled;

    public static Task<int> Main(string[] args)
    {
        var runs = args.Length == 0 || args[0] == "run" || args[0].StartsWith('-');
        var hostArgs = args.Length > 0 && args[0] == "run" ? args[1..] : args;
        var help = args.Any(static a => a is "--help" or "-h" or "-?");
        if (!HasOperatorVerbs)
        {
            return runs && !help ? WorkerHost.RunAsync(hostArgs) : NativeUsageAsync(help);
        }

        if (help)
        {
            // Help is the CLI's, also for 'run --help' and '--urls … --help': never start the worker for it.
            return OperatorCli.RunAsync(runs ? ["--help"] : args);
        }

        return runs ? WorkerHost.RunAsync(hostArgs) : OperatorCli.RunAsync(args);
    }

    private static async Task<int> NativeUsageAsync(bool help)
    {
        var usage = "This is the native build of the Hermes outbox worker: it runs the dispatcher ('run', the default; " +
            "configuration as for the .NET build) and has no operator verbs. Those (migrate, replay, purge, doctor, erase, seed, " +
            "stats) are in the .NET build: dotnet Hermes.Outbox.Worker.dll <verb> --help.";
        await (help ? Console.Out : Console.Error).WriteLineAsync(usage);
        return help ? ExitCodes.Ok : ExitCodes.Usage;
    }
}
