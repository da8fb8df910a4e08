namespace Hermes.Cli;

/// <summary>
/// What the verbs know of the person at the keyboard: a terminal on stdin to read a confirmation from (null when stdin
/// is a pipe, a file or nothing, as in a script, a container without <c>-it</c>, or a Kubernetes Job), and whether
/// stderr is a terminal that can show progress.
/// </summary>
internal sealed record CliTerminal(TextReader? Input, bool ErrorIsTerminal)
{
    /// <summary>Neither: how the verbs run under a script.</summary>
    public static readonly CliTerminal None = new(Input: null, ErrorIsTerminal: false);

    /// <summary>This process's own stdin and stderr.</summary>
    public static CliTerminal OfProcess() => new(Console.IsInputRedirected ? null : Console.In, !Console.IsErrorRedirected);
}
