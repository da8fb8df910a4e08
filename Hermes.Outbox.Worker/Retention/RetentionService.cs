using Hermes.Persistence.Operations;
using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Retention;

/// <summary>
/// Purges delivered outbox rows and old attempt logs on a schedule (<see cref="RetentionOptions"/>), with the same
/// <see cref="OutboxPurge"/> as the <c>purge</c> verb, and audit trail entries older than <c>Retention:AuditPeriod</c>. A failed purge is logged and tried again at the next interval.
/// Several workers may purge at once: the purge skips rows another worker is deleting.
/// </summary>
public sealed partial class RetentionService(OutboxPurge purge, AuditTrail audit, IOptions<RetentionOptions> options, TimeProvider time, ILogger<RetentionService> logger)
    : BackgroundService
{
    /// <summary>Delay before the first purge, so it does not compete with the worker's start.</summary>
    private static readonly TimeSpan FirstRunDelay = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            LogDisabled(logger);
            return;
        }

        var delay = settings.Interval < FirstRunDelay ? settings.Interval : FirstRunDelay;
        try
        {
            await Task.Delay(delay, time, stoppingToken);
            using var timer = new PeriodicTimer(settings.Interval, time);
            do
            {
                await PurgeOnceAsync(settings.Period, settings.AuditPeriod, stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    private async Task PurgeOnceAsync(TimeSpan period, TimeSpan auditPeriod, CancellationToken stoppingToken)
    {
        try
        {
            var result = await purge.PurgeAsync(period, stoppingToken);
            if (result.OutboxRows + result.AttemptLogs > 0)
            {
                LogPurged(logger, result.OutboxRows, result.AttemptLogs, period);
            }

            var entries = await audit.PurgeAsync(auditPeriod, stoppingToken);
            if (entries > 0)
            {
                LogAuditPurged(logger, entries, auditPeriod);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogFailed(logger, e);
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Retention purged {OutboxRows} delivered outbox rows and {AttemptLogs} attempt logs older than {Period}")]
    private static partial void LogPurged(ILogger logger, long outboxRows, long attemptLogs, TimeSpan period);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Retention purge failed; it is tried again at the next interval")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Retention purged {Entries} audit trail entries older than {Period}")]
    private static partial void LogAuditPurged(ILogger logger, long entries, TimeSpan period);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Retention is off (Retention:Enabled=false): delivered outbox rows are kept until 'purge' runs")]
    private static partial void LogDisabled(ILogger logger);
}
