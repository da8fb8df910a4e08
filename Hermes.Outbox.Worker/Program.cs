namespace Hermes.Outbox.Worker;

/// <summary>
/// The outbox worker: the dispatcher, its wake-up listener, retention and its health endpoint (<see cref="WorkerHost"/>).
/// The image runs its Native AOT build (<c>dotnet publish -r linux-x64 -p:HermesNative=true</c>). The operator verbs
/// are the <c>hermes</c> command (Hermes.Cli).
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args) => WorkerHost.RunAsync(args);
}
