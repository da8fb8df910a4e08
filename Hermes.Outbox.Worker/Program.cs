using Hermes.Outbox.Worker.Cli;

namespace Hermes.Outbox.Worker;

/// <summary>
/// The worker's executable: <c>run</c> (the default) hosts the outbox dispatcher; every other verb is an
/// operator command (see <see cref="OperatorCli"/>).
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args) =>
        args.Length == 0 || args[0] == "run" || args[0].StartsWith('-')
            ? WorkerHost.RunAsync(args.Length > 0 && args[0] == "run" ? args[1..] : args)
            : OperatorCli.RunAsync(args);
}
