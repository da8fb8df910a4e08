using Hermes.Persistence.Operations;

namespace Hermes.Tests.Operations;

public sealed class OperatorTimeTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [TestCase("90s", 90)]
    [TestCase("30m", 1800)]
    [TestCase("12h", 43_200)]
    [TestCase("7d", 604_800)]
    [TestCase("2w", 1_209_600)]
    [TestCase("1.5h", 5400)]
    [TestCase("7.00:00:00", 604_800)]
    [TestCase("00:05:00", 300)]
    public void Durations_are_read_in_the_operator_units(string text, int seconds)
    {
        Assert.That(OperatorTime.TryParseDuration(text, out var duration), Is.True);
        Assert.That(duration, Is.EqualTo(TimeSpan.FromSeconds(seconds)));
    }

    [TestCase("")]
    [TestCase(null)]
    [TestCase("7x")]
    [TestCase("-3d")]
    [TestCase("0h")]
    [TestCase("abc")]
    [TestCase("-00:05:00")]
    [TestCase("999999d")]
    public void Nonsense_durations_are_refused(string? text) =>
        Assert.That(OperatorTime.TryParseDuration(text, out _), Is.False);

    [Test]
    public void Instants_are_iso_times_utc_by_default_or_durations_ago()
    {
        Assert.That(OperatorTime.TryParseInstant("2026-11-20T08:00:00Z", Now, out var iso), Is.True);
        Assert.That(iso, Is.EqualTo(new DateTimeOffset(2026, 11, 20, 8, 0, 0, TimeSpan.Zero)));
        Assert.That(OperatorTime.TryParseInstant("2026-11-20", Now, out var date), Is.True);
        Assert.That(date, Is.EqualTo(new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero)));
        Assert.That(OperatorTime.TryParseInstant("2026-11-20T10:00:00+02:00", Now, out var offset), Is.True);
        Assert.That(offset.UtcDateTime, Is.EqualTo(new DateTime(2026, 11, 20, 8, 0, 0, DateTimeKind.Utc)));
        Assert.That(OperatorTime.TryParseInstant("2h", Now, out var ago), Is.True);
        Assert.That(ago, Is.EqualTo(Now.AddHours(-2)));
        Assert.That(OperatorTime.TryParseInstant("yesterday", Now, out _), Is.False);
        Assert.That(OperatorTime.TryParseInstant(" ", Now, out _), Is.False);
    }

    [TestCase(-5, "0s")]
    [TestCase(45, "45s")]
    [TestCase(725, "12m 5s")]
    [TestCase(12_000, "3h 20m")]
    [TestCase(187_200, "2d 4h")]
    [TestCase(604_800, "7d")]
    [TestCase(3600, "1h")]
    [TestCase(300, "5m")]
    public void Durations_print_short(int seconds, string expected) =>
        Assert.That(OperatorTime.Format(TimeSpan.FromSeconds(seconds)), Is.EqualTo(expected));
}
