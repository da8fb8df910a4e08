using System.Diagnostics;
using System.Globalization;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary>
/// Progress of a long verb on the operator's terminal: one line on stderr, rewritten in place (rows done / total, rate,
/// time left), at most a few times a second, ended with a newline. Only where a person watches: never with
/// <c>--json</c> and never when stderr is not a terminal (a pipe, a log file, a Job's log), where <see cref="For"/> gives
/// null and the verb prints as before. Work that cannot count its rows (one statement) shows the time passed instead
/// (<see cref="TickAsync"/>).
/// </summary>
internal sealed class CliProgress : IProgress<long>
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private readonly TextWriter _error;
    private readonly string _what;
    private readonly long? _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private TimeSpan? _lastWrite;
    private int _width;

    private CliProgress(TextWriter error, string what, long? total)
    {
        _error = error;
        _what = what;
        _total = total;
    }

    /// <summary>A reporter for <paramref name="what"/> (e.g. "seed"), or null when nobody watches a terminal or the output is JSON.</summary>
    public static CliProgress? For(CliContext context, bool json, string what, long? total) =>
        json || !context.Terminal.ErrorIsTerminal ? null : new CliProgress(context.Error, what, total);

    /// <summary>Rows done so far; written when the last line is older than a quarter of a second.</summary>
    public void Report(long value) => Write(value, force: false);

    /// <summary>Rewrites the line with the time passed until <paramref name="cancellationToken"/> ends: for one long statement.</summary>
    public async Task TickAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Write(done: null, force: true);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The statement finished: the line stops here.
        }
    }

    /// <summary>The last line, with <paramref name="done"/> rows, and a newline.</summary>
    public void Complete(long? done)
    {
        lock (_lock)
        {
            Write(done, force: true);
            _error.WriteLine();
            _error.Flush();
        }
    }

    /// <summary>The line itself, e.g. "seed: 12,000 / 1,000,000 rows (1.2%), 4,210 rows/s, 3m 55s left".</summary>
    public static string Format(string what, long? done, long? total, TimeSpan elapsed)
    {
        var invariant = CultureInfo.InvariantCulture;
        if (done is not { } rows)
        {
            return total is { } expected
                ? string.Create(invariant, $"{what}: {expected:N0} rows, {OperatorTime.Format(elapsed)} so far")
                : string.Create(invariant, $"{what}: {OperatorTime.Format(elapsed)} so far");
        }

        var rate = elapsed.TotalSeconds >= 0.05 ? rows / elapsed.TotalSeconds : 0;
        var speed = rate > 0 ? string.Create(invariant, $"{rate:N0} rows/s") : "… rows/s";
        if (total is not { } all || all <= 0)
        {
            return string.Create(invariant, $"{what}: {rows:N0} rows, {speed}, {OperatorTime.Format(elapsed)} so far");
        }

        var percent = Math.Min(100.0, 100.0 * rows / all);
        var left = rows >= all ? "done"
            : rate > 0 ? $"{OperatorTime.Format(TimeSpan.FromSeconds((all - rows) / rate))} left"
            : "time left not known yet";
        return string.Create(invariant, $"{what}: {rows:N0} / {all:N0} rows ({percent:0.0}%), {speed}, {left}");
    }

    private void Write(long? done, bool force)
    {
        lock (_lock)
        {
            var now = _clock.Elapsed;
            if (!force && _lastWrite is { } last && now - last < Interval)
            {
                return;
            }

            _lastWrite = now;
            var line = Format(_what, done, _total, now);
            // Pad over a longer previous line; \r goes back to the start of the same line.
            _error.Write("\r" + line.PadRight(_width));
            _width = Math.Max(_width, line.Length);
            _error.Flush();
        }
    }
}
