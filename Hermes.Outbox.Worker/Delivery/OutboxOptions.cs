using System.Globalization;
using Hermes.Domain;
using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>How the dispatcher claims and retries: configuration section <c>Outbox</c>.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>
    /// <see cref="BatchSize"/> when <c>Outbox:BatchSize</c> is not set and the lease covers it (<see cref="DefaultBatchSizeFor"/>).
    /// Through a backlog each claim is a round trip and a commit that the deliveries wait for, and a statement PostgreSQL
    /// plans and runs however many rows it takes: 64 drained a backlog of 250,000 at 6,735–6,858 rows/s against
    /// 5,678–5,938 with 32, with a tenth less CPU per row (bench/RESULTS.md, "The drain at 6,000 rows/s").
    /// </summary>
    public const int DefaultBatchSize = 64;

    /// <summary>The most rows one claim statement takes.</summary>
    public int BatchSize { get; set; } = DefaultBatchSize;

    /// <summary>The most POSTs in flight at once.</summary>
    public int Concurrency { get; set; } = 16;

    /// <summary>
    /// How long a claimed row stays invisible to other workers. Must cover the longest a claimed row can wait
    /// for a free slot and then take: RequestTimeout × (⌈BatchSize ÷ Concurrency⌉ + 1).
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the table is looked at when no NOTIFY arrives (the fallback, and the only way behind a transaction pooler).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>False: do not LISTEN, only poll.</summary>
    public bool Listen { get; set; } = true;

    /// <summary>Attempts in all (the first included) before a row is marked failed.</summary>
    public int MaxAttempts { get; set; } = 12;

    /// <summary>The ceiling of the first retry's delay; it doubles with every attempt (full jitter).</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The largest delay backoff alone produces.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest <c>Retry-After</c> honoured.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The limit of one POST, from connecting to the last byte of the answer read.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>This worker's name in <c>locked_by</c> and the attempt log; default machine name and process id.</summary>
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    public CircuitBreakerSettings CircuitBreaker { get; set; } = new();

    /// <summary>
    /// When the circuit closes after an outage, replay once the rows that gave up during it with outage answers only
    /// (no answer, timeouts, 502/503/504); see docs/operating.md. Off by default.
    /// </summary>
    public bool AutoRecover { get; set; }

    /// <summary>The most rows one automatic recovery replays (oldest failure first).</summary>
    public int AutoRecoverMaxRows { get; set; } = 500;

    /// <summary>The pace of an automatic recovery: the n-th replayed row is due this long after the one before it.</summary>
    public TimeSpan AutoRecoverSpacing { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The part of a lease kept free at its end: an outcome must be written, and a POST must be able to finish, this long
    /// before the lease ends, which leaves a worker that cannot write in time the moment to stop before another worker
    /// may claim the row. A tenth of the lease, at most 5 s.
    /// </summary>
    public TimeSpan LeaseMargin => TimeSpan.FromTicks(Math.Min(Lease.Ticks / 10, TimeSpan.FromSeconds(5).Ticks));

    /// <summary>How many request durations a claimed row may need at most: the waves of its batch, plus the one in flight when it was claimed.</summary>
    public int LeaseWaves => WavesFor(BatchSize);

    /// <summary>The request durations a row claimed in a batch of <paramref name="batch"/> may need at most (<see cref="LeaseWaves"/>).</summary>
    private int WavesFor(int batch) => ((batch + Math.Max(Concurrency, 1) - 1) / Math.Max(Concurrency, 1)) + 1;

    /// <summary>
    /// The batch a worker claims when <c>Outbox:BatchSize</c> is not set: <see cref="DefaultBatchSize"/>, or fewer when
    /// <see cref="Lease"/> does not cover that many waves of <see cref="RequestTimeout"/> (the largest batch it covers),
    /// so that a lease and timeout that were valid with a smaller default stay valid. <see cref="DefaultBatchSize"/> when
    /// not even one row is covered: the validator then says what the lease must be.
    /// </summary>
    public int DefaultBatchSizeFor()
    {
        for (var batch = DefaultBatchSize; batch >= 1; batch--)
        {
            if (Lease > RequestTimeout * WavesFor(batch))
            {
                return batch;
            }
        }

        return DefaultBatchSize;
    }

    public RetrySchedule ToRetrySchedule() => new(BaseDelay, MaxDelay, MaxAttempts, MaxRetryAfter);
}

/// <summary>When n8n counts as down: section <c>Outbox:CircuitBreaker</c>.</summary>
public sealed class CircuitBreakerSettings
{
    /// <summary>The share of failed attempts (5xx, 429, timeouts, connection errors) in the sampling window that opens the circuit.</summary>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>The fewest attempts in the window before the ratio counts.</summary>
    public int MinimumThroughput { get; set; } = 10;

    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the circuit stays open before one probe delivery is tried.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Checks <see cref="OutboxOptions"/> at start; every message names its key.</summary>
public sealed class OutboxOptionsValidator : IValidateOptions<OutboxOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboxOptions options)
    {
        var errors = new List<string>();
        void Check(bool ok, string key, string message)
        {
            if (!ok)
            {
                errors.Add($"{OutboxOptions.Section}:{key} {message}");
            }
        }

        Check(options.BatchSize is >= 1 and <= 1000, nameof(options.BatchSize), "must be between 1 and 1000.");
        Check(options.Concurrency is >= 1 and <= 512, nameof(options.Concurrency), "must be between 1 and 512.");
        Check(options.PollInterval >= TimeSpan.FromMilliseconds(10) && options.PollInterval <= TimeSpan.FromHours(1), nameof(options.PollInterval), "must be between 00:00:00.010 and 01:00:00.");
        Check(options.MaxAttempts is >= 1 and <= 1000, nameof(options.MaxAttempts), "must be between 1 and 1000.");
        Check(options.BaseDelay > TimeSpan.Zero, nameof(options.BaseDelay), "must be positive.");
        Check(options.MaxDelay >= options.BaseDelay, nameof(options.MaxDelay), "must be at least Outbox:BaseDelay.");
        Check(options.MaxRetryAfter >= TimeSpan.Zero, nameof(options.MaxRetryAfter), "must not be negative.");
        Check(options.RequestTimeout >= TimeSpan.FromMilliseconds(10) && options.RequestTimeout <= TimeSpan.FromHours(1), nameof(options.RequestTimeout), "must be between 00:00:00.010 and 01:00:00.");
        Check(!string.IsNullOrWhiteSpace(options.WorkerId) && options.WorkerId.Length <= 200, nameof(options.WorkerId), "must be 1 to 200 characters.");

        Check(options.AutoRecoverMaxRows is >= 1 and <= 100_000, nameof(options.AutoRecoverMaxRows), "must be between 1 and 100000.");
        Check(options.AutoRecoverSpacing >= TimeSpan.Zero && options.AutoRecoverSpacing <= TimeSpan.FromMinutes(1), nameof(options.AutoRecoverSpacing), "must be between 00:00:00 and 00:01:00.");

        var breaker = options.CircuitBreaker;
        Check(breaker.FailureRatio is > 0 and <= 1, "CircuitBreaker:FailureRatio", "must be greater than 0 and at most 1.");
        Check(breaker.MinimumThroughput >= 2, "CircuitBreaker:MinimumThroughput", "must be at least 2.");
        Check(breaker.SamplingDuration >= TimeSpan.FromMilliseconds(500), "CircuitBreaker:SamplingDuration", "must be at least 00:00:00.500.");
        Check(breaker.BreakDuration >= TimeSpan.FromMilliseconds(500), "CircuitBreaker:BreakDuration", "must be at least 00:00:00.500.");

        if (options.BatchSize >= 1 && options.Concurrency >= 1 && options.RequestTimeout > TimeSpan.Zero)
        {
            // A lease that ends while its row is still being delivered lets a second worker deliver it too.
            var needed = options.RequestTimeout * options.LeaseWaves;
            Check(options.Lease > needed, nameof(options.Lease), string.Create(CultureInfo.InvariantCulture,
                $"({options.Lease}) must be longer than Outbox:RequestTimeout × (⌈Outbox:BatchSize ÷ Outbox:Concurrency⌉ + 1) = {options.RequestTimeout} × {options.LeaseWaves} = {needed}, or a row still being delivered could be claimed and delivered again by another worker."));
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
