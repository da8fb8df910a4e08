using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;

namespace Hermes.ServiceDefaults;

/// <summary>
/// Counts the threads the .NET thread pool had to add because its threads were blocked, as
/// <c>hermes.runtime.thread_pool.blocked_injections</c> (by <c>reason</c>: <c>starvation</c> — no work item finished
/// for half a second, so the gate thread added one; <c>cooperative_blocking</c> — a pool thread waited synchronously
/// on a task). An async host should never see either under load: a blocked pool thread delays every request queued
/// behind it by the half second the pool takes per new thread, which is what a p99 of 500 ms at four connections looks
/// like. The thread pool reports its adjustments as runtime events (<c>ThreadPoolWorkerThreadAdjustment/Adjustment</c>,
/// keyword Threading; the runtime writes them at level Verbose only); this listener subscribes to the Threading keyword
/// alone, in process, and counts a blocking adjustment only when it raised the thread count (the pool reports the
/// decrease when the blocking ends with the same reason).
/// </summary>
public sealed class ThreadPoolBlocking : EventListener
{
    /// <summary>The meter, exported with Hermes' own (<see cref="HermesTelemetryExtensions.Meters"/>).</summary>
    public const string MeterName = "Hermes.Runtime";

    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords ThreadingKeyword = (EventKeywords)0x10000;
    private const int AdjustmentEventId = 55;

    // The runtime's ThreadAdjustmentReasonMap: 6 Starvation, 8 CooperativeBlocking (the others are hill climbing's own moves).
    private const uint StarvationReason = 6;
    private const uint CooperativeBlockingReason = 8;

    private static readonly Lock Gate = new();
    private static ThreadPoolBlocking? _listener;
    private static Meter? _meter;
    private static long _starvation;
    private static long _cooperativeBlocking;
    private static long _lastThreadCount;

    private ThreadPoolBlocking()
    {
    }

    /// <summary>Threads added for starvation since the process started.</summary>
    public static long Starvation => Interlocked.Read(ref _starvation);

    /// <summary>Threads added because a pool thread blocked on a task, since the process started.</summary>
    public static long CooperativeBlocking => Interlocked.Read(ref _cooperativeBlocking);

    /// <summary>
    /// Starts the one listener of the process and its counter on the <see cref="MeterName"/> meter (once, however many
    /// hosts the process builds).
    /// </summary>
    public static void Start()
    {
        lock (Gate)
        {
            if (_listener is not null)
            {
                return;
            }

            _meter = new Meter(MeterName);
            Observe(_meter);
            _listener = new ThreadPoolBlocking();
        }
    }

    private static void Observe(Meter meter)
    {
        meter.CreateObservableCounter(
            "hermes.runtime.thread_pool.blocked_injections",
            static () => new[]
            {
                new Measurement<long>(Starvation, new KeyValuePair<string, object?>("reason", "starvation")),
                new Measurement<long>(CooperativeBlocking, new KeyValuePair<string, object?>("reason", "cooperative_blocking")),
            },
            "{thread}",
            "Threads the .NET thread pool added because its threads were blocked (starvation, or a synchronous wait on a task).");
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSource)
        {
            EnableEvents(eventSource, EventLevel.Verbose, ThreadingKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventId != AdjustmentEventId || eventData.Payload is not { Count: >= 3 } payload)
        {
            return;
        }

        // Payload: AverageThroughput, NewWorkerThreadCount, Reason, ClrInstanceID.
        var threads = Convert.ToInt64(payload[1], System.Globalization.CultureInfo.InvariantCulture);
        var raised = threads > Interlocked.Exchange(ref _lastThreadCount, threads);
        switch (Convert.ToUInt32(payload[2], System.Globalization.CultureInfo.InvariantCulture))
        {
            case StarvationReason when raised:
                Interlocked.Increment(ref _starvation);
                break;
            case CooperativeBlockingReason when raised:
                Interlocked.Increment(ref _cooperativeBlocking);
                break;
        }
    }
}
