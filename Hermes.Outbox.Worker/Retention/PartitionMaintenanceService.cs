using Hermes.Persistence.Operations;

namespace Hermes.Outbox.Worker.Retention;

/// <summary>
/// Keeps the attempt log's days created ahead (<see cref="AttemptPartitions.EnsureAheadAsync"/>: today and
/// <see cref="AttemptPartitions.DaysAhead"/> days after it) at start and every <see cref="Interval"/>, whether or not
/// retention is on: without a day's partition, the attempts of that day are refused. One worker at a time does it (a
/// transaction-level advisory lock, tried and never waited for); the others skip the round. A failed round is logged
/// and tried again at the next interval; a week of failed rounds leaves the worker creating the day itself when an
/// insert is refused (<c>OutcomeCompleter</c>), and <c>doctor</c> and the alert <c>HermesAttemptPartitionsAheadShort</c> say so first.
/// </summary>
public sealed partial class PartitionMaintenanceService(AttemptPartitions partitions, TimeProvider time, ILogger<PartitionMaintenanceService> logger)
    : BackgroundService
{
    /// <summary>The time between two rounds: the days ahead are created long before they are needed.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            using var timer = new PeriodicTimer(Interval, time);
            do
            {
                await RunOnceAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    private async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        try
        {
            var round = await partitions.EnsureAheadAsync(stoppingToken);
            if (round.Created > 0)
            {
                LogCreated(logger, round.Created, AttemptPartitions.DaysAhead);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogFailed(logger, e);
        }
    }

    [LoggerMessage(EventId = 5010, Level = LogLevel.Information, Message = "Created {Count} day partition(s) of the attempt log (today and {DaysAhead} days ahead are kept)")]
    private static partial void LogCreated(ILogger logger, int count, int daysAhead);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Error, Message = "Creating the attempt log's partitions ahead failed; tried again at the next interval")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
