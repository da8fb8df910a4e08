using System.Globalization;
using Hermes.Persistence.Operations;

namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// The overview's chart of the last 24 hours as SVG geometry, computed on the server: per hour a bar of deliveries
/// and one of failed attempts, a y axis with three ticks and an hour label every third hour. Presentation attributes
/// and CSS classes only (no style attributes), so the page's CSP needs no 'unsafe-inline'.
/// </summary>
public sealed record DeliveryChart(IReadOnlyList<DeliveryChart.Bar> Bars, IReadOnlyList<DeliveryChart.Tick> YTicks, IReadOnlyList<DeliveryChart.Tick> XLabels, long Max)
{
    public const int Width = 720;
    public const int Height = 220;
    public const int Left = 44;
    public const int Right = 8;
    public const int Top = 10;
    public const int Bottom = 26;
    public const int PlotHeight = Height - Top - Bottom;
    public const int Baseline = Height - Bottom;

    public sealed record Bar(double X, double Y, double Width, double Height, string Class, string Title);

    public sealed record Tick(double Position, string Label);

    public static DeliveryChart From(IReadOnlyList<HourlyDeliveries> hours)
    {
        var max = Math.Max(1, hours.Count == 0 ? 0 : hours.Max(static h => Math.Max(h.Delivered, h.FailedAttempts)));
        var top = NiceCeiling(max);
        var slot = (double)(Width - Left - Right) / Math.Max(1, hours.Count);
        var barWidth = Math.Max(1, (slot - 4) / 2);
        var bars = new List<Bar>(hours.Count * 2);
        var labels = new List<Tick>();
        for (var i = 0; i < hours.Count; i++)
        {
            var hour = hours[i];
            var x = Left + (i * slot) + 2;
            var name = hour.Hour.ToUniversalTime().ToString("HH:00", CultureInfo.InvariantCulture);
            bars.Add(BarOf(x, barWidth, hour.Delivered, top, "delivered", $"{name} UTC: {hour.Delivered} delivered"));
            bars.Add(BarOf(x + barWidth, barWidth, hour.FailedAttempts, top, "failed", $"{name} UTC: {hour.FailedAttempts} failed attempts ({hour.GaveUp} gave up)"));
            if (i % 3 == 0)
            {
                labels.Add(new Tick(Round(x + barWidth), name));
            }
        }

        var ticks = new[] { 0, top / 2, top }.Distinct()
            .Select(v => new Tick(Round(Baseline - (PlotHeight * (double)v / top)), v.ToString(CultureInfo.InvariantCulture)))
            .ToList();
        return new DeliveryChart(bars, ticks, labels, max);
    }

    /// <summary>Invariant number text for an SVG attribute.</summary>
    public static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static Bar BarOf(double x, double width, long value, long top, string cssClass, string title)
    {
        var height = PlotHeight * (double)value / top;
        return new Bar(Round(x), Round(Baseline - height), Round(width), Round(height), cssClass, title);
    }

    /// <summary>1, 2, 5 × 10ⁿ at or above <paramref name="value"/>, so the ticks are round numbers.</summary>
    internal static long NiceCeiling(long value)
    {
        long step = 1;
        while (true)
        {
            foreach (var factor in new[] { 1L, 2L, 5L })
            {
                if (step * factor >= value)
                {
                    return step * factor;
                }
            }

            step *= 10;
        }
    }

    private static double Round(double value) => Math.Round(value, 2);
}
