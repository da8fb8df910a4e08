namespace Hermes.Cli;

/// <summary>What the operator verbs return. docs/operating.md, "Exit codes", documents the same table.</summary>
public static class ExitCodes
{
    /// <summary>Done; for <c>doctor</c>, nothing wrong.</summary>
    public const int Ok = 0;

    /// <summary>
    /// A problem was found (<c>doctor</c>) or the request was refused (<c>erase</c> of an unknown lead, <c>seed</c> in
    /// Production, a down-migration in Production without <c>--allow-schema-loss</c>) or not confirmed at the prompt.
    /// </summary>
    public const int Problem = 1;

    /// <summary>
    /// Wrong usage: unknown verb or option, bad value (e.g. <c>migrate --to</c> an unknown migration), a verb that changes
    /// data run without <c>--yes</c> when stdin is not a terminal.
    /// </summary>
    public const int Usage = 2;

    /// <summary>Could not finish: the database is unreachable or a statement failed, or the command was interrupted.</summary>
    public const int Failure = 3;

    /// <summary>
    /// The configuration was refused (database setting missing or malformed; the message names the key): EX_CONFIG,
    /// the code every Hermes host exits with for the same reason (<see cref="ServiceDefaults.ConfigurationRefusal"/>).
    /// </summary>
    public const int Configuration = ServiceDefaults.ConfigurationRefusal.ExitCode;
}
