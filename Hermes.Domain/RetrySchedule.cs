namespace Hermes.Domain;

/// <summary>
/// When to try a failed delivery again: exponential backoff with full jitter, capped, for at most
/// <see cref="MaxAttempts"/> attempts. A receiver's <c>Retry-After</c> wins when it asks for longer.
/// Pure: the caller passes the random source, so the schedule is testable.
/// </summary>
public sealed record RetrySchedule
{
    public RetrySchedule(TimeSpan baseDelay, TimeSpan maxDelay, int maxAttempts, TimeSpan? maxRetryAfter = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(baseDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, baseDelay);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        BaseDelay = baseDelay;
        MaxDelay = maxDelay;
        MaxAttempts = maxAttempts;
        MaxRetryAfter = maxRetryAfter ?? TimeSpan.FromHours(24);
    }

    /// <summary>The ceiling of the first retry's delay; it doubles with every attempt.</summary>
    public TimeSpan BaseDelay { get; }

    /// <summary>The largest delay backoff alone will produce.</summary>
    public TimeSpan MaxDelay { get; }

    /// <summary>Attempts in all (the first one included) before a message is marked failed.</summary>
    public int MaxAttempts { get; }

    /// <summary>The longest <c>Retry-After</c> honoured; a receiver asking for more gets this.</summary>
    public TimeSpan MaxRetryAfter { get; }

    /// <summary>The default: 2 s doubling to at most 10 min, 12 attempts (about an hour of retrying before giving up).</summary>
    public static RetrySchedule Default { get; } = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10), 12);

    /// <summary>True when an attempt with this number (1-based) that failed was the last one allowed.</summary>
    public bool IsExhausted(int attempts) => attempts >= MaxAttempts;

    /// <summary>The upper bound of the jittered delay after attempt number <paramref name="attempts"/> (1-based).</summary>
    public TimeSpan Ceiling(int attempts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        var exponent = Math.Min(attempts - 1, 40);
        var ticks = BaseDelay.Ticks * Math.Pow(2, exponent);
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>
    /// The delay before the next attempt after attempt number <paramref name="attempts"/> failed: uniformly
    /// random in [0, ceiling] ("full jitter"), or the receiver's <paramref name="retryAfter"/> when that is longer.
    /// </summary>
    public TimeSpan NextDelay(int attempts, TimeSpan? retryAfter, Random random)
    {
        var ceiling = Ceiling(attempts);
        var jittered = TimeSpan.FromTicks((long)(ceiling.Ticks * random.NextDouble()));
        if (retryAfter is { } asked && asked > jittered)
        {
            return asked > MaxRetryAfter ? MaxRetryAfter : asked;
        }

        return jittered;
    }
}
