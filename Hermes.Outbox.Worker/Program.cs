using Hermes.Outbox.Worker.Cli;

namespace Hermes.Outbox.Worker;

/// <summary>
/// The worker's executable: <c>run</c> (the default) hosts the outbox dispatcher; every other verb is an
/// operator command (see <see cref="OperatorCli"/>).
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args)
    {
        if (args.Any(static a => a is "--help" or "-h" or "-?"))
        {
            // Help is the CLI's, also for 'run --help' and '--urls … --help': never start the worker for it.
            return OperatorCli.RunAsync(args.Length > 0 && (args[0] == "run" || args[0].StartsWith('-')) ? ["--help"] : args);
        }

        return args.Length == 0 || args[0] == "run" || args[0].StartsWith('-')
            ? WorkerHost.RunAsync(args.Length > 0 && args[0] == "run" ? args[1..] : args)
            : OperatorCli.RunAsync(args);
    }
}
