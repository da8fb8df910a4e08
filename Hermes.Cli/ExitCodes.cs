namespace Hermes.Cli;

/// <summary>What the operator verbs return. docs/operating.md, "Exit codes", documents the same table.</summary>
public static class ExitCodes
{
    /// <summary>Done; for <c>doctor</c>, nothing wrong.</summary>
    public const int Ok = 0;

    /// <summary>A problem was found (<c>doctor</c>) or the request was refused (<c>erase</c> of an unknown lead, <c>seed</c> in Production).</summary>
    public const int Problem = 1;

    /// <summary>Wrong usage (unknown verb or option, bad value) or configuration (database setting missing or malformed).</summary>
    public const int Usage = 2;

    /// <summary>Could not finish: the database is unreachable or a statement failed, or the command was interrupted.</summary>
    public const int Failure = 3;
}
