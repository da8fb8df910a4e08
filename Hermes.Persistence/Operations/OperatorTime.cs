using System.Globalization;

namespace Hermes.Persistence.Operations;

/// <summary>
/// How operators write times and durations: durations as <c>90s</c>, <c>30m</c>, <c>12h</c>, <c>7d</c>, <c>2w</c>
/// (or .NET's <c>7.00:00:00</c>); instants as ISO 8601 (<c>2026-11-20T08:00:00Z</c>, <c>2026-11-20</c> meaning
/// midnight UTC) or as a duration meaning "that long ago" (<c>--since 2h</c>). Times without an offset are UTC.
/// </summary>
public static class OperatorTime
{
    public static bool TryParseDuration(string? text, out TimeSpan duration)
    {
        duration = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var value = text.Trim();
        var unit = value[^1];
        if (char.IsAsciiLetter(unit))
        {
            var multiplier = char.ToLowerInvariant(unit) switch
            {
                's' => TimeSpan.FromSeconds(1),
                'm' => TimeSpan.FromMinutes(1),
                'h' => TimeSpan.FromHours(1),
                'd' => TimeSpan.FromDays(1),
                'w' => TimeSpan.FromDays(7),
                _ => TimeSpan.Zero,
            };
            if (multiplier == TimeSpan.Zero
                || !double.TryParse(value[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)
                || amount <= 0 || amount * multiplier.TotalDays > 36_500)
            {
                return false;
            }

            duration = TimeSpan.FromTicks((long)(amount * multiplier.Ticks));
            return true;
        }

        return TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out duration) && duration > TimeSpan.Zero;
    }

    public static bool TryParseInstant(string? text, DateTimeOffset now, out DateTimeOffset instant)
    {
        instant = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var value = text.Trim();
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out instant))
        {
            return true;
        }

        if (TryParseDuration(value, out var ago))
        {
            instant = now - ago;
            return true;
        }

        return false;
    }

    /// <summary>A short, readable duration: <c>45s</c>, <c>12m 5s</c>, <c>3h 20m</c>, <c>2d 4h</c>.</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            duration = TimeSpan.Zero;
        }

        static string Two(long big, string bigUnit, int small, string smallUnit) => small == 0 ? $"{big}{bigUnit}" : $"{big}{bigUnit} {small}{smallUnit}";
        return duration.TotalSeconds < 60 ? $"{(int)duration.TotalSeconds}s"
            : duration.TotalMinutes < 60 ? Two((long)duration.TotalMinutes, "m", duration.Seconds, "s")
            : duration.TotalHours < 24 ? Two((long)duration.TotalHours, "h", duration.Minutes, "m")
            : Two((long)duration.TotalDays, "d", duration.Hours, "h");
    }

    public const string DurationHelp = "a duration like 90s, 30m, 12h, 7d or 2w";
    public const string InstantHelp = "an ISO 8601 time (2026-11-20T08:00:00Z; UTC when no offset is given) or a duration meaning that long ago (2h, 7d)";
}
