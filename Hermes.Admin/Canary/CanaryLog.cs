namespace Hermes.Admin.Canary;

/// <summary>The canary's log messages (event ids 5300–5309).</summary>
internal static partial class CanaryLog
{
    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "Canary on: a synthetic lead every {Interval} through {ApiUrl}")]
    public static partial void Started(ILogger logger, TimeSpan interval, string apiUrl);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Canary {LeadId}: {Outcome} in {Seconds:0.000} s")]
    public static partial void Finished(ILogger logger, string leadId, string outcome, double seconds);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Warning, Message = "Canary {LeadId}: {Outcome} after {Seconds:0.000} s ({Detail})")]
    public static partial void Failed(ILogger logger, string leadId, string outcome, double seconds, string detail);

    [LoggerMessage(EventId = 5303, Level = LogLevel.Warning, Message = "Canary not accepted by the API: {Outcome} ({Detail})")]
    public static partial void NotAccepted(ILogger logger, string outcome, string detail);

    [LoggerMessage(EventId = 5304, Level = LogLevel.Debug, Message = "Canary skipped: another admin host runs it (advisory lock held, or its last canary is recent)")]
    public static partial void Skipped(ILogger logger);

    [LoggerMessage(EventId = 5305, Level = LogLevel.Error, Message = "Canary run failed in Hermes itself; the next one runs on schedule")]
    public static partial void RunFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5306, Level = LogLevel.Debug, Message = "Canary: {Removed} earlier canary lead(s) deleted; kept for a later run: {InFlight} in flight, {ForCrm} awaiting their Brevo erasure")]
    public static partial void Removed(ILogger logger, int removed, int inFlight, int forCrm);
}
