namespace Hermes.Api.Intake;

/// <summary>The intake's log messages (event ids 3000–3099). Leads are named by their public id, never by personal data.</summary>
internal static partial class IntakeLog
{
    // Debug: a line per lead is the database's record written twice, and at the API's rate it costs a tenth of its
    // throughput (bench/RESULTS.md, "A line per lead, at Debug"). Development shows it (appsettings.Development.json).
    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Lead {LeadId} stored as backup {BackupId} and queued for delivery")]
    public static partial void LeadQueued(ILogger logger, string leadId, long backupId);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Idempotent replay: the Idempotency-Key was first used for lead {LeadId}")]
    public static partial void IdempotentReplay(ILogger logger, string leadId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Idempotency-Key of lead {LeadId} reused with a different submission; answered 422")]
    public static partial void IdempotencyKeyReused(ILogger logger, string leadId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Submission rejected; invalid fields: {Fields}")]
    public static partial void SubmissionRejected(ILogger logger, string fields);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Captcha token rejected by the verify endpoint (error codes: {ErrorCodes})")]
    public static partial void CaptchaRejected(ILogger logger, string errorCodes);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Captcha verify endpoint unavailable: {Reason}; answered 503")]
    public static partial void CaptchaUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Debug, Message = "Request body refused: {Problem}")]
    public static partial void BodyRefused(ILogger logger, BodyProblem problem);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "Rate limit reached on {Path}; answered 429")]
    public static partial void RateLimited(ILogger logger, string path);

    [LoggerMessage(EventId = 3040, Level = LogLevel.Warning, Message = "A submission carried the Hermes-Canary header with a wrong secret (or this API has no HERMES_CANARY_SECRET); answered 403, nothing stored")]
    public static partial void CanaryRefused(ILogger logger);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Information, Message = "Canary {LeadId} stored as backup {BackupId} and queued for delivery")]
    public static partial void CanaryQueued(ILogger logger, string leadId, long backupId);
}
