using System.Net.Sockets;
using System.Threading.Channels;
using Hermes.Domain;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly.CircuitBreaker;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// The delivery flow, one step per type: this class claims due outbox rows in batches (one statement,
/// <c>FOR UPDATE SKIP LOCKED</c>, lease pushed into <c>available_at</c>) and POSTs them through
/// <see cref="WebhookClient"/> with at most <see cref="OutboxOptions.Concurrency"/> in flight;
/// <see cref="DeliveryDecision"/> turns each result into an outcome (pure); <see cref="OutcomeCompleter"/> writes the
/// outcomes back in batches and stops the worker when it cannot. A batch is claimed only when a delivery slot is free, and its rows start as
/// slots free up, so a claimed row never waits longer than the lease rule allows. No transaction or lock is
/// held while HTTP runs. While the circuit is open nothing is claimed; once the break ends, one row is
/// claimed as the probe. On shutdown: no more claims, deliveries in flight finish (until the host's shutdown
/// timeout), and rows claimed but not started are released for another worker to take at once. A claimed row is
/// released too, not sent, when less of its lease is left than a POST (<see cref="OutboxOptions.RequestTimeout"/>) and
/// the writing of its outcome (<see cref="OutboxOptions.LeaseMargin"/>) may take.
/// </summary>
public sealed class OutboxDispatcher : BackgroundService
{
    private static readonly TimeSpan MinimumIdle = TimeSpan.FromMilliseconds(5);

    // A row due now that the claim from the top skipped is locked: its lead by an erase, a replay, an outcome being
    // written or an operator's transaction. Claiming again every MinimumIdle for as long as that lock stands would be
    // 200 statements a second for nothing; each such empty claim doubles the wait instead, up to this. A NOTIFY still
    // ends the wait at once.
    private static readonly TimeSpan LockedRowBackoffCap = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CircuitCheck = TimeSpan.FromMilliseconds(50);

    // How long a backlog's claims may start from the scan floor before one starts from the top again: the longest a row
    // left behind the floor (skipped while its lead was locked, or due at an earlier place) waits (ScanFloor).
    private static readonly TimeSpan FullScanInterval = TimeSpan.FromSeconds(1);

    private readonly OutboxStore _store;
    private readonly WebhookClient _client;
    private readonly OutcomeCompleter _completer;
    private readonly OutboxWakeUp _wakeUp;
    private readonly DeliveryState _state;
    private readonly OutboxTelemetry _telemetry;
    private readonly OutboxOptions _options;
    private readonly RetrySchedule _schedule;
    private readonly TimeProvider _time;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ILogger<OutboxDispatcher> _logger;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _abort = new();
    private readonly TimeSpan _latestStart;
    private int _inFlight;
    private TimeSpan _lockedRowBackoff = MinimumIdle;

    public OutboxDispatcher(
        OutboxStore store,
        WebhookClient client,
        OutcomeCompleter completer,
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
        _completer = completer;
        _wakeUp = wakeUp;
        _state = state;
        _telemetry = telemetry;
        _options = options.Value;
        _schedule = _options.ToRetrySchedule();
        _time = time;
        _shutdownTimeout = hostOptions.Value.ShutdownTimeout;
        _logger = logger;
        _slots = new SemaphoreSlim(_options.Concurrency, _options.Concurrency);
        // A POST may take RequestTimeout, and its outcome must be written a margin before the lease ends.
        _latestStart = _options.Lease - _options.LeaseMargin - _options.RequestTimeout;
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

        var writer = Task.Run(_completer.RunAsync, CancellationToken.None);
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

            _completer.Complete();
            await writer;
        }
    }

    private async Task ClaimLoopAsync(CancellationToken stoppingToken)
    {
        var claimBackoff = TimeSpan.FromSeconds(1);
        ScanFloor? scanFloor = null;
        var lastFullScan = DateTimeOffset.MinValue;
        // A worker that gave up (it cannot write outcomes, and is stopping) claims nothing more.
        while (!stoppingToken.IsCancellationRequested && _state.FatalError is null)
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
            DateTimeOffset claimedAt;
            ScanFloor? from;
            try
            {
                // Not cancelled by shutdown: a claim cut off after the server ran it would leave rows leased for nothing.
                claimedAt = _time.GetUtcNow();
                // Through a backlog each claim starts where the last full batch began (ScanFloor); after a short batch,
                // and once a second, a claim starts from the top.
                from = scanFloor is not null && claimedAt - lastFullScan < FullScanInterval ? scanFloor : null;
                if (from is null)
                {
                    lastFullScan = claimedAt;
                }

                (batch, var place) = await _store.ClaimAsync(want, _options.Lease, _options.WorkerId, from, CancellationToken.None);
                scanFloor = batch.Count == want && want > 1 ? place : null;
                claimBackoff = TimeSpan.FromSeconds(1);
            }
            catch (Exception e) when (DatabaseErrors.IsDatabaseTrouble(e))
            {
                scanFloor = null;
                _slots.Release();
                WorkerLog.ClaimFailed(_logger, e, claimBackoff);
                await WaitQuietlyAsync(Task.Delay(claimBackoff, _time, stoppingToken));
                claimBackoff = TimeSpan.FromTicks(Math.Min(claimBackoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                continue;
            }

            if (batch.Count == 0)
            {
                _slots.Release();
                // Nothing from the floor on says nothing of the rows behind it: the next claim, from the top, at once.
                if (from is null)
                {
                    await IdleAsync(stoppingToken);
                }

                continue;
            }

            _lockedRowBackoff = MinimumIdle;
            _telemetry.Claimed.Add(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                if (i > 0 && !await WaitQuietlyAsync(_slots.WaitAsync(stoppingToken)))
                {
                    await ReleaseAsync(batch.Skip(i), "shutdown");
                    return;
                }

                if (_state.FatalError is not null)
                {
                    _slots.Release();
                    await ReleaseAsync(batch.Skip(i), "the worker is stopping");
                    return;
                }

                if (_time.GetUtcNow() > claimedAt + _latestStart)
                {
                    // Waited too long for a slot (a stalled process, a full outcome queue): a POST now might outlast its
                    // lease, and another worker could send the row meanwhile. The rest of the batch is as late.
                    _slots.Release();
                    await ReleaseAsync(batch.Skip(i), "too little of their lease was left to send them and write the outcome");
                    break;
                }

                Interlocked.Increment(ref _inFlight);
                var message = batch[i];
                _ = Task.Run(() => DeliverAsync(message, claimedAt), CancellationToken.None);
            }

            if (batch.Count < want && want > 1 && from is null)
            {
                // The table had no more due rows a moment ago: wait for a NOTIFY, the next due row, or the poll. (A short
                // batch from the floor is followed by a claim from the top at once.)
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
            var due = await _store.NextDueAsync(stoppingToken);
            // Due now, yet the claim from the top just came back empty: the row is locked (see LockedRowBackoffCap).
            var locked = due < MinimumIdle;
            var soonest = locked ? _lockedRowBackoff : due;
            wait = soonest < wait ? soonest.Value : wait;
            _lockedRowBackoff = locked ? TimeSpan.FromTicks(Math.Min(_lockedRowBackoff.Ticks * 2, LockedRowBackoffCap.Ticks)) : MinimumIdle;
        }
        catch (Exception e) when (DatabaseErrors.IsDatabaseTrouble(e))
        {
            // The next claim reports the database's trouble; until then, the poll interval.
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        await WaitQuietlyAsync(_wakeUp.WaitAsync(wait, stoppingToken));
    }

    private async Task DeliverAsync(ClaimedMessage message, DateTimeOffset claimedAt)
    {
        using var scope = WorkerLog.DeliveryScope(_logger, message.LeadId, message.Id);
        try
        {
            var webhookId = WebhookIds.WebhookIdFor(message.MessageId, message.ReplayCount);
            Decision decision;
            WebhookResult? result = null;
            try
            {
                result = await _client.SendAsync(new WebhookRequest(webhookId, message.Payload, message.Attempt, message.LeadId, message.Traceparent), _abort.Token);
                decision = DeliveryDecision.Decide(message, result, _schedule, Random.Shared);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                // Cut off by the host's shutdown timeout: n8n may or may not have it. Counted, and due again at once.
                var now = _time.GetUtcNow();
                WorkerLog.DeliveriesAbandoned(_logger, 1);
                result = new WebhookResult(WebhookResultKind.ConnectionFailed, now, now, Error: "Cut off by the worker's shutdown.");
                decision = DeliveryDecision.Failure(message, result, TimeSpan.Zero);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A defect, not a network condition: logged as such, and recorded so the row is retried rather than
                // left leased without a trace.
                WorkerLog.DeliveryCrashed(_logger, e, message.LeadId, message.Id);
                decision = DeliveryDecision.Crashed(message, _time.GetUtcNow(), e, _schedule, Random.Shared);
                result = null;
            }

            Observe(message, claimedAt, result, decision);
            await _completer.AddAsync(Completion.Of(decision, claimedAt + _options.Lease));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _slots.Release();
        }
    }

    /// <summary>The decision's telemetry, health state and log lines (none of them with n8n's answer).</summary>
    private void Observe(ClaimedMessage message, DateTimeOffset claimedAt, WebhookResult? result, Decision decision)
    {
        if (decision.Outcome is not { } outcome)
        {
            _telemetry.Released.Add(1);
            return;
        }

        var duration = (outcome.FinishedAt - outcome.StartedAt).TotalSeconds;
        var kind = new KeyValuePair<string, object?>("outcome", outcome.Outcome);
        _telemetry.Deliveries.Add(1, kind);
        _telemetry.DeliveryDuration.Record(duration, kind);
        if (outcome.Outcome == DeliveryOutcomes.Delivered && message.IsErasure)
        {
            _state.RecordSuccess(hasContactId: true);
            _telemetry.Attempts.Record(message.Attempt, kind);
            WorkerLog.ErasureConfirmed(_logger, message.LeadId, message.Id, message.Attempt, outcome.StatusCode, outcome.DurationMs);
            return;
        }

        if (outcome.Outcome == DeliveryOutcomes.Delivered)
        {
            _state.RecordSuccess(outcome.BrevoContactId is not null);
            _telemetry.Attempts.Record(message.Attempt, kind);
            // The row's age at the claim by the database's clock, plus this worker's own time since: no clock skew.
            _telemetry.DeliveryLatency.Record((message.SinceCreated + (outcome.FinishedAt - claimedAt)).TotalSeconds);
            if (outcome.BrevoContactId is null)
            {
                _telemetry.MissingContactId.Add(1);
                if (decision.Answer?.ContactIdProblem == ContactIdProblem.NotAnIdentifier)
                {
                    WorkerLog.ContactIdDropped(_logger, message.LeadId);
                }
                else
                {
                    WorkerLog.MissingContactId(_logger, message.LeadId);
                }
            }

            WorkerLog.Delivered(_logger, message.LeadId, message.Id, message.Attempt, outcome.StatusCode, outcome.DurationMs);
            return;
        }

        if (result is not null)
        {
            _state.RecordFailure();
        }

        // An erasure answered 2xx without "erased": true has no transport error; its reason, without the answer.
        var reason = result?.Error ?? (result is { IsSuccess: true } ? "n8n answered 2xx without \"erased\": true" : "Worker error");
        var answerBytes = result?.Body?.Length ?? 0;
        if (outcome.RetryDelay is { } delay)
        {
            WorkerLog.RetryScheduled(_logger, message.LeadId, message.Id, message.Attempt, reason, answerBytes, delay);
        }
        else
        {
            _telemetry.Attempts.Record(message.Attempt, kind);
            WorkerLog.DeliveryFailed(_logger, message.LeadId, message.Id, message.Attempt, reason, answerBytes);
        }
    }

    private async Task ReleaseAsync(IEnumerable<ClaimedMessage> messages, string reason)
    {
        var claims = messages.Select(static m => new ReleasedClaim(m.Id, m.Attempt, m.ReplayCount)).ToList();
        try
        {
            var count = await _store.ReleaseAsync(claims, _options.WorkerId, CancellationToken.None);
            _telemetry.Released.Add(count);
            WorkerLog.Released(_logger, count, reason);
        }
        catch (Exception e) when (DatabaseErrors.IsDatabaseTrouble(e))
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
