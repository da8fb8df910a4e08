using System.Net.Sockets;
using System.Threading.Channels;
using Hermes.Domain;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly.CircuitBreaker;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// Claims due outbox rows in batches (one statement, <c>FOR UPDATE SKIP LOCKED</c>, lease pushed into
/// <c>available_at</c>), POSTs them with at most <see cref="OutboxOptions.Concurrency"/> in flight, and writes
/// the outcomes back in batches. A batch is claimed only when a delivery slot is free, and its rows start as
/// slots free up, so a claimed row never waits longer than the lease rule allows. No transaction or lock is
/// held while HTTP runs. While the circuit is open nothing is claimed; once the break ends, one row is
/// claimed as the probe. On shutdown: no more claims, deliveries in flight finish (until the host's shutdown
/// timeout), and rows claimed but not started are released for another worker to take at once.
/// </summary>
public sealed class OutboxDispatcher : BackgroundService
{
    private const int MaxWriteBatch = 500;
    private static readonly TimeSpan MinimumIdle = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan CircuitCheck = TimeSpan.FromMilliseconds(50);

    private readonly OutboxStore _store;
    private readonly WebhookClient _client;
    private readonly OutboxWakeUp _wakeUp;
    private readonly DeliveryState _state;
    private readonly OutboxTelemetry _telemetry;
    private readonly OutboxOptions _options;
    private readonly RetrySchedule _schedule;
    private readonly TimeProvider _time;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ILogger<OutboxDispatcher> _logger;
    private readonly SemaphoreSlim _slots;
    private readonly Channel<Completion> _completed = Channel.CreateUnbounded<Completion>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private int _inFlight;

    public OutboxDispatcher(
        OutboxStore store,
        WebhookClient client,
        OutboxWakeUp wakeUp,
        DeliveryState state,
        OutboxTelemetry telemetry,
        IOptions<OutboxOptions> options,
        IOptions<HostOptions> hostOptions,
        TimeProvider time,
        ILogger<OutboxDispatcher> logger)
    {
        _store = store;
        _client = client;
        _wakeUp = wakeUp;
        _state = state;
        _telemetry = telemetry;
        _options = options.Value;
        _schedule = _options.ToRetrySchedule();
        _time = time;
        _shutdownTimeout = hostOptions.Value.ShutdownTimeout;
        _logger = logger;
        _slots = new SemaphoreSlim(_options.Concurrency, _options.Concurrency);
    }

    /// <summary>Deliveries running now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The stopping token ends the claiming; the host's own token (its shutdown timeout) ends what is in flight.
        await using var registration = cancellationToken.Register(static abort => ((CancellationTokenSource)abort!).Cancel(), _abort);
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _abort.Dispose();
        _slots.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        WorkerLog.DispatcherStarted(_logger, _options.WorkerId, _options.BatchSize, _options.Concurrency, _options.Lease, _options.PollInterval, _options.RequestTimeout, _options.MaxAttempts);
        if (_shutdownTimeout < _options.RequestTimeout)
        {
            WorkerLog.ShutdownTimeoutShort(_logger, _shutdownTimeout, _options.RequestTimeout);
        }

        var writer = Task.Run(WriteOutcomesAsync, CancellationToken.None);
        try
        {
            await ClaimLoopAsync(stoppingToken);
        }
        finally
        {
            WorkerLog.Stopping(_logger, _options.WorkerId, InFlight);
            // Every delivery gives its slot back after posting its outcome, so holding all slots means all are written to the channel.
            for (var i = 0; i < _options.Concurrency; i++)
            {
                await _slots.WaitAsync(CancellationToken.None);
            }

            _completed.Writer.TryComplete();
            await writer;
        }
    }

    private async Task ClaimLoopAsync(CancellationToken stoppingToken)
    {
        var claimBackoff = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            var want = _options.BatchSize;
            if (_state.Circuit != CircuitState.Closed)
            {
                if (!await WaitForProbeAsync(stoppingToken))
                {
                    continue;
                }

                want = 1;
            }

            if (!await WaitQuietlyAsync(_slots.WaitAsync(stoppingToken)))
            {
                return;
            }

            IReadOnlyList<ClaimedMessage> batch;
            try
            {
                // Not cancelled by shutdown: a claim cut off after the server ran it would leave rows leased for nothing.
                batch = await _store.ClaimAsync(want, _options.Lease, _options.WorkerId, CancellationToken.None);
                claimBackoff = TimeSpan.FromSeconds(1);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or SocketException)
            {
                _slots.Release();
                WorkerLog.ClaimFailed(_logger, e, claimBackoff);
                await WaitQuietlyAsync(Task.Delay(claimBackoff, _time, stoppingToken));
                claimBackoff = TimeSpan.FromTicks(Math.Min(claimBackoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                continue;
            }

            if (batch.Count == 0)
            {
                _slots.Release();
                await IdleAsync(stoppingToken);
                continue;
            }

            _telemetry.Claimed.Add(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                if (i > 0 && !await WaitQuietlyAsync(_slots.WaitAsync(stoppingToken)))
                {
                    await ReleaseAsync(batch.Skip(i), "shutdown");
                    return;
                }

                Interlocked.Increment(ref _inFlight);
                var message = batch[i];
                _ = Task.Run(() => DeliverAsync(message), CancellationToken.None);
            }

            if (batch.Count < want && want > 1)
            {
                // The table had no more due rows a moment ago: wait for a NOTIFY, the next due row, or the poll.
                await IdleAsync(stoppingToken);
            }
        }
    }

    /// <summary>While the circuit is not closed: waits until no delivery is in flight and the break has ended. True: send one probe.</summary>
    private async Task<bool> WaitForProbeAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var circuit = _state.Circuit;
            if (circuit == CircuitState.Closed)
            {
                return false;
            }

            var breakOver = circuit == CircuitState.HalfOpen || (circuit == CircuitState.Open && _state.CircuitOpenUntil is { } until && _time.GetUtcNow() >= until);
            if (breakOver && InFlight == 0)
            {
                return true;
            }

            await WaitQuietlyAsync(Task.Delay(CircuitCheck, _time, stoppingToken));
        }

        return false;
    }

    private async Task IdleAsync(CancellationToken stoppingToken)
    {
        var wait = _options.PollInterval;
        try
        {
            if (await _store.NextDueAsync(stoppingToken) is { } due && due < wait)
            {
                wait = due < MinimumIdle ? MinimumIdle : due;
            }
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or SocketException)
        {
            // The next claim reports the database's trouble; until then, the poll interval.
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        await WaitQuietlyAsync(_wakeUp.WaitAsync(wait, stoppingToken));
    }

    private async Task DeliverAsync(ClaimedMessage message)
    {
        using var scope = WorkerLog.DeliveryScope(_logger, message.LeadId, message.Id);
        try
        {
            var webhookId = message.ReplayCount > 0 ? $"{message.MessageId}_r{message.ReplayCount}" : message.MessageId;
            WebhookResult result;
            try
            {
                result = await _client.SendAsync(new WebhookRequest(webhookId, message.Payload, message.Attempt, message.LeadId, message.Traceparent), _abort.Token);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                // Cut off by the host's shutdown timeout: n8n may or may not have it. Counted, and due again at once.
                var now = _time.GetUtcNow();
                WorkerLog.DeliveriesAbandoned(_logger, 1);
                await _completed.Writer.WriteAsync(new(Failure(message, new WebhookResult(WebhookResultKind.ConnectionFailed, now, now, Error: "Cut off by the worker's shutdown."), TimeSpan.Zero)), CancellationToken.None);
                return;
            }

            await _completed.Writer.WriteAsync(Decide(message, result), CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A defect, not a network condition: logged as such, and recorded so the row is retried rather than
            // left leased without a trace.
            WorkerLog.DeliveryCrashed(_logger, e, message.LeadId, message.Id);
            var now = _time.GetUtcNow();
            var crashed = new WebhookResult(WebhookResultKind.ConnectionFailed, now, now, Error: "Worker error: " + e.Message);
            await _completed.Writer.WriteAsync(new(Failure(message, crashed, _schedule.IsExhausted(message.Attempt) ? null : _schedule.NextDelay(message.Attempt, null, Random.Shared))), CancellationToken.None);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _slots.Release();
        }
    }

    private Completion Decide(ClaimedMessage message, WebhookResult result)
    {
        if (result.Kind == WebhookResultKind.CircuitOpen)
        {
            _telemetry.Released.Add(1);
            return new(Released: new ReleasedClaim(message.Id, message.Attempt));
        }

        var duration = (result.FinishedAt - result.StartedAt).TotalSeconds;
        if (result.IsSuccess)
        {
            var answer = N8nAnswer.Read(result.Body, result.Truncated);
            _state.RecordSuccess(answer.BrevoContactId is not null);
            _telemetry.Deliveries.Add(1, new KeyValuePair<string, object?>("outcome", DeliveryOutcomes.Delivered));
            _telemetry.DeliveryDuration.Record(duration, new KeyValuePair<string, object?>("outcome", DeliveryOutcomes.Delivered));
            _telemetry.Attempts.Record(message.Attempt, new KeyValuePair<string, object?>("outcome", DeliveryOutcomes.Delivered));
            if (answer.BrevoContactId is null)
            {
                _telemetry.MissingContactId.Add(1);
                WorkerLog.MissingContactId(_logger, message.LeadId);
            }

            var outcome = new AttemptOutcome
            {
                OutboxId = message.Id,
                LeadRowId = message.LeadRowId,
                Attempt = message.Attempt,
                Outcome = DeliveryOutcomes.Delivered,
                StartedAt = result.StartedAt,
                FinishedAt = result.FinishedAt,
                StatusCode = result.StatusCode,
                ResponseExcerpt = answer.Excerpt,
                ResponseData = answer.ResponseData,
                BrevoContactId = answer.BrevoContactId,
            };
            WorkerLog.Delivered(_logger, message.LeadId, message.Id, message.Attempt, result.StatusCode, outcome.DurationMs);
            return new(outcome);
        }

        _state.RecordFailure();
        // 410 Gone: the receiver says this webhook is gone for good; retrying cannot help.
        var final = result.StatusCode == 410 || _schedule.IsExhausted(message.Attempt);
        _telemetry.DeliveryDuration.Record(duration, new KeyValuePair<string, object?>("outcome", final ? DeliveryOutcomes.Failed : DeliveryOutcomes.Retry));
        return new(Failure(message, result, final ? null : _schedule.NextDelay(message.Attempt, result.RetryAfter, Random.Shared)));
    }

    /// <summary>A failed attempt: a retry after <paramref name="delay"/>, or the final failure when <paramref name="delay"/> is null.</summary>
    private AttemptOutcome Failure(ClaimedMessage message, WebhookResult result, TimeSpan? delay)
    {
        var kind = delay is null ? DeliveryOutcomes.Failed : DeliveryOutcomes.Retry;
        _telemetry.Deliveries.Add(1, new KeyValuePair<string, object?>("outcome", kind));
        if (delay is { } d)
        {
            WorkerLog.RetryScheduled(_logger, message.LeadId, message.Id, message.Attempt, result.Error, d);
        }
        else
        {
            _telemetry.Attempts.Record(message.Attempt, new KeyValuePair<string, object?>("outcome", DeliveryOutcomes.Failed));
            WorkerLog.DeliveryFailed(_logger, message.LeadId, message.Id, message.Attempt, result.Error);
        }

        return new AttemptOutcome
        {
            OutboxId = message.Id,
            LeadRowId = message.LeadRowId,
            Attempt = message.Attempt,
            Outcome = kind,
            StartedAt = result.StartedAt,
            FinishedAt = result.FinishedAt,
            StatusCode = result.StatusCode,
            Error = result.Error,
            ResponseExcerpt = result.Body is { } body ? N8nAnswer.ExcerptOf(body) : null,
            RetryDelay = delay,
        };
    }

    /// <summary>Writes outcomes as they arrive, as many as have queued up in one round trip, until the channel completes.</summary>
    private async Task WriteOutcomesAsync()
    {
        var reader = _completed.Reader;
        var outcomes = new List<AttemptOutcome>();
        var released = new List<ReleasedClaim>();
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (outcomes.Count + released.Count < MaxWriteBatch && reader.TryRead(out var item))
            {
                if (item.Outcome is { } outcome)
                {
                    outcomes.Add(outcome);
                }

                if (item.Released is { } claim)
                {
                    released.Add(claim);
                }
            }

            await WriteAsync(outcomes, released);
            if (released.Count > 0)
            {
                WorkerLog.Released(_logger, released.Count, "circuit open");
            }

            if (outcomes.Exists(static o => o.Outcome == DeliveryOutcomes.Retry))
            {
                // The dispatcher may be idle, waiting for a poll that comes later than this retry is due: let it look again.
                _wakeUp.Signal();
            }

            outcomes.Clear();
            released.Clear();
        }
    }

    private async Task WriteAsync(List<AttemptOutcome> outcomes, List<ReleasedClaim> released)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _store.CompleteAsync(outcomes, released, _options.WorkerId, CancellationToken.None);
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or SocketException)
            {
                if (attempt >= 6 || _abort.IsCancellationRequested)
                {
                    WorkerLog.WriteGaveUp(_logger, outcomes.Count + released.Count);
                    return;
                }

                WorkerLog.WriteFailed(_logger, e, outcomes.Count + released.Count, attempt);
                await WaitQuietlyAsync(Task.Delay(delay, _time, _abort.Token));
                delay *= 2;
            }
        }
    }

    private async Task ReleaseAsync(IEnumerable<ClaimedMessage> messages, string reason)
    {
        var claims = messages.Select(static m => new ReleasedClaim(m.Id, m.Attempt)).ToList();
        try
        {
            var count = await _store.ReleaseAsync(claims, _options.WorkerId, CancellationToken.None);
            _telemetry.Released.Add(count);
            WorkerLog.Released(_logger, count, reason);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or SocketException)
        {
            WorkerLog.WriteFailed(_logger, e, claims.Count, 1);
            WorkerLog.WriteGaveUp(_logger, claims.Count);
        }
    }

    /// <summary>Awaits <paramref name="task"/>; false when it was cancelled (shutdown), instead of throwing.</summary>
    private static async Task<bool> WaitQuietlyAsync(Task task)
    {
        try
        {
            await task;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>What a finished delivery hands to the writer: an attempt's outcome, or a claim to undo.</summary>
internal readonly record struct Completion(AttemptOutcome? Outcome = null, ReleasedClaim? Released = null);
