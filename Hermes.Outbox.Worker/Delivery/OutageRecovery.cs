using Hermes.Persistence.Operations;
using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// Automatic recovery (<see cref="OutboxOptions.AutoRecover"/>): when this worker's circuit breaker closes after an
/// outage and the next delivery succeeds, replays once the rows that gave up during it with outage answers only
/// (<see cref="OutboxAutoRecovery"/>).
/// "During it" is from this worker's first failed attempt after its last delivery until the recovery runs, a moment
/// after the close; the window is sent as a length, so the database compares it with its own clock
/// (<c>failed_at</c>) and no clock skew between a worker and the database matters. Off, it says when an outage ended
/// and that its rows stay failed (event 4053).
/// </summary>
public sealed class OutageRecovery(
    OutboxAutoRecovery recovery,
    DeliveryState state,
    OutboxTelemetry telemetry,
    IOptions<OutboxOptions> options,
    TimeProvider time,
    ILogger<OutageRecovery> logger) : BackgroundService
{
    // Lets the outcome writer land the outcomes that were queued when the circuit closed (the probe goes only when
    // nothing else is in flight, so they are few and already written or about to be).
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        try
        {
            while (await state.OutageEnded.WaitToReadAsync(stoppingToken))
            {
                state.OutageEnded.TryRead(out _);
                if (!settings.AutoRecover)
                {
                    if (state.TakeOutage() is { } began)
                    {
                        WorkerLog.OutageEndedWithoutRecovery(logger, began);
                    }

                    continue;
                }

                await Task.Delay(Settle, time, stoppingToken);
                if (state.TakeOutage() is not { } since)
                {
                    continue;
                }

                var outage = time.GetUtcNow() - since;
                try
                {
                    var result = await recovery.RecoverAsync(outage, settings.AutoRecoverMaxRows, settings.AutoRecoverSpacing, settings.WorkerId, stoppingToken);
                    if (!result.Ran)
                    {
                        WorkerLog.AutoRecoveryBusy(logger, outage);
                        continue;
                    }

                    telemetry.AutoRecovered.Add(result.Count);
                    WorkerLog.AutoRecovered(logger, outage, result.Count, result.AuditId);
                }
                catch (Exception e) when (DatabaseErrors.IsDatabaseTrouble(e))
                {
                    // Not retried: the rows stay failed and visible; the next outage's recovery, or an operator, takes them.
                    WorkerLog.AutoRecoveryFailed(logger, e, outage);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown.
        }
    }
}
