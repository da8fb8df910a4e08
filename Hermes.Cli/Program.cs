namespace Hermes.Cli;

/// <summary>The <c>hermes</c> command: one operator verb per run (<see cref="OperatorCli"/>), exit codes in <see cref="ExitCodes"/>.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => OperatorCli.RunAsync(args);
}
