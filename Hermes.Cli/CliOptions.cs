using System.CommandLine;
using System.CommandLine.Parsing;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary>Options several verbs share, and parsers for the operator's way of writing times (<see cref="OperatorTime"/>).</summary>
internal static class CliOptions
{
    public static Option<bool> Json() => new("--json") { Description = "Print the result as JSON, for scripts." };

    /// <summary>For the verbs that delete or rewrite data (see <see cref="CliContext.ConfirmAsync"/>).</summary>
    public static Option<bool> Yes() => new("--yes", "-y")
    {
        Description = "Do it without asking (for scripts). Without it the verb asks on a terminal, and refuses when stdin is not a terminal.",
    };

    public static Option<bool> DryRun(string description) => new("--dry-run") { Description = $"{description}; change nothing." };

    /// <summary>How many ids a dry run or a question lists before "… and N more".</summary>
    public const int Listed = 20;

    public static Option<TimeSpan> Duration(string name, TimeSpan defaultValue, string description) => new(name)
    {
        Description = $"{description}: {OperatorTime.DurationHelp}.",
        HelpName = "duration",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : null;
            if (text is null)
            {
                return defaultValue;
            }

            if (OperatorTime.TryParseDuration(text, out var duration))
            {
                return duration;
            }

            result.AddError($"'{text}' is not {OperatorTime.DurationHelp}.");
            return default;
        },
    };

    public static Option<DateTimeOffset?> Instant(string name, string description) => new(name)
    {
        Description = $"{description}: {OperatorTime.InstantHelp}.",
        HelpName = "time",
        CustomParser = static result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : null;
            if (text is null)
            {
                return null;
            }

            if (OperatorTime.TryParseInstant(text, DateTimeOffset.UtcNow, out var instant))
            {
                return instant;
            }

            result.AddError($"'{text}' is not {OperatorTime.InstantHelp}.");
            return null;
        },
    };
}
