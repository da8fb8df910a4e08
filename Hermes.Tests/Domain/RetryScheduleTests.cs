using Hermes.Domain;

namespace Hermes.Tests.Domain;

public sealed class RetryScheduleTests
{
    private static readonly RetrySchedule Schedule = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10), 5);

    [Test]
    public void The_ceiling_doubles_from_the_base_delay_and_stops_at_the_cap()
    {
        Assert.That(Schedule.Ceiling(1), Is.EqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(Schedule.Ceiling(2), Is.EqualTo(TimeSpan.FromSeconds(4)));
        Assert.That(Schedule.Ceiling(5), Is.EqualTo(TimeSpan.FromSeconds(32)));
        Assert.That(Schedule.Ceiling(9), Is.EqualTo(TimeSpan.FromSeconds(512)));
        Assert.That(Schedule.Ceiling(10), Is.EqualTo(TimeSpan.FromMinutes(10)));
        Assert.That(Schedule.Ceiling(1000), Is.EqualTo(TimeSpan.FromMinutes(10)));
    }

    [Test]
    public void Full_jitter_stays_within_zero_and_the_ceiling_and_uses_the_whole_range()
    {
        var random = new Random(7);
        var delays = Enumerable.Range(0, 2000).Select(_ => Schedule.NextDelay(3, null, random)).ToList();

        Assert.That(delays.Min(), Is.GreaterThanOrEqualTo(TimeSpan.Zero));
        Assert.That(delays.Max(), Is.LessThanOrEqualTo(TimeSpan.FromSeconds(8)));
        Assert.That(delays.Min(), Is.LessThan(TimeSpan.FromSeconds(0.5)));
        Assert.That(delays.Max(), Is.GreaterThan(TimeSpan.FromSeconds(7.5)));
        Assert.That(delays.Distinct().Count(), Is.GreaterThan(1900), "jittered, not fixed");
    }

    [Test]
    public void A_longer_retry_after_wins()
    {
        var delay = Schedule.NextDelay(1, TimeSpan.FromSeconds(90), new Random(1));

        Assert.That(delay, Is.EqualTo(TimeSpan.FromSeconds(90)));
    }

    [Test]
    public void A_shorter_retry_after_does_not_shorten_the_backoff()
    {
        var zeroRandom = new FixedRandom(0.99);

        var delay = Schedule.NextDelay(4, TimeSpan.FromSeconds(1), zeroRandom);

        Assert.That(delay, Is.EqualTo(TimeSpan.FromSeconds(16 * 0.99)).Within(TimeSpan.FromMilliseconds(1)));
    }

    [Test]
    public void An_absurd_retry_after_is_capped()
    {
        var delay = Schedule.NextDelay(1, TimeSpan.FromDays(30), new Random(1));

        Assert.That(delay, Is.EqualTo(TimeSpan.FromHours(24)));
    }

    [Test]
    public void The_schedule_is_exhausted_after_max_attempts()
    {
        Assert.That(Schedule.IsExhausted(4), Is.False);
        Assert.That(Schedule.IsExhausted(5), Is.True);
        Assert.That(Schedule.IsExhausted(6), Is.True);
    }

    [Test]
    public void Nonsensical_settings_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RetrySchedule(TimeSpan.Zero, TimeSpan.FromSeconds(1), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RetrySchedule(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RetrySchedule(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Ceiling(0));
    }

    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }
}
