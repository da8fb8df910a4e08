namespace Hermes.Outbox.Worker.Delivery;

/// <summary>The worker's log messages (event ids 4000–4099).</summary>
internal static partial class WorkerLog
{
    /// <summary>Every line written while a message is delivered carries its lead id and outbox id.</summary>
    public static readonly Func<ILogger, string, long, IDisposable?> DeliveryScope =
        LoggerMessage.DefineScope<string, long>("Lead {LeadId}, outbox {OutboxId}");

    [LoggerMessage(4000, LogLevel.Information, "Outbox dispatcher {WorkerId} started: batch {BatchSize}, concurrency {Concurrency}, lease {Lease}, poll every {PollInterval}, request timeout {RequestTimeout}, {MaxAttempts} attempts")]
    public static partial void DispatcherStarted(ILogger logger, string workerId, int batchSize, int concurrency, TimeSpan lease, TimeSpan pollInterval, TimeSpan requestTimeout, int maxAttempts);

    // Debug, as the API's line per lead (3001): the attempt log holds every delivery; Development shows it.
    [LoggerMessage(4001, LogLevel.Debug, "Delivered lead {LeadId} (outbox {OutboxId}, attempt {Attempt}) with HTTP {StatusCode} in {DurationMs} ms")]
    public static partial void Delivered(ILogger logger, string leadId, long outboxId, int attempt, int? statusCode, int durationMs);

    [LoggerMessage(4007, LogLevel.Information, "The CRM confirmed the erasure of lead {LeadId} (outbox {OutboxId}, attempt {Attempt}) with HTTP {StatusCode} in {DurationMs} ms")]
    public static partial void ErasureConfirmed(ILogger logger, string leadId, long outboxId, int attempt, int? statusCode, int durationMs);

    // Failures log the reason, the status and the answer's length, never the answer: it can echo the form. The answer's
    // excerpt is in the attempt log (hermes_delivery_attempts), where erasure reaches it.
    [LoggerMessage(4002, LogLevel.Warning, "Delivery of lead {LeadId} (outbox {OutboxId}) failed at attempt {Attempt}: {Reason} (answer of {AnswerBytes} bytes, excerpt in the attempt log); next attempt in {Delay}")]
    public static partial void RetryScheduled(ILogger logger, string leadId, long outboxId, int attempt, string? reason, int answerBytes, TimeSpan delay);

    [LoggerMessage(4003, LogLevel.Error, "Delivery of lead {LeadId} (outbox {OutboxId}) gave up after attempt {Attempt}: {Reason} (answer of {AnswerBytes} bytes, excerpt in the attempt log). Replay it once the cause is fixed")]
    public static partial void DeliveryFailed(ILogger logger, string leadId, long outboxId, int attempt, string? reason, int answerBytes);

    [LoggerMessage(4004, LogLevel.Warning, "Lead {LeadId} was delivered but n8n's answer carried no Brevo contact id (brevoContactId, brevo_contact_id, contactId or id); check the n8n workflow's execution log")]
    public static partial void MissingContactId(ILogger logger, string leadId);

    [LoggerMessage(4006, LogLevel.Warning, "Lead {LeadId} was delivered but the contact id in n8n's answer is not an identifier (1-100 letters, digits, '.', '_', ':', '-'); it was dropped")]
    public static partial void ContactIdDropped(ILogger logger, string leadId);

    [LoggerMessage(4005, LogLevel.Error, "Delivering lead {LeadId} (outbox {OutboxId}) failed in the worker itself; the attempt is recorded and retried")]
    public static partial void DeliveryCrashed(ILogger logger, Exception exception, string leadId, long outboxId);

    [LoggerMessage(4010, LogLevel.Warning, "The webhook looks down: circuit opened for {BreakDuration}; no rows are claimed until a probe succeeds")]
    public static partial void CircuitOpened(ILogger logger, TimeSpan breakDuration);

    [LoggerMessage(4011, LogLevel.Information, "Circuit half-open: sending one probe delivery")]
    public static partial void CircuitHalfOpened(ILogger logger);

    [LoggerMessage(4012, LogLevel.Information, "Circuit closed: the webhook answers again")]
    public static partial void CircuitClosed(ILogger logger);

    [LoggerMessage(4050, LogLevel.Information, "Automatic recovery after an outage of {Outage}: replayed {Count} rows that gave up with outage answers only (audit entry {AuditId})")]
    public static partial void AutoRecovered(ILogger logger, TimeSpan outage, long count, long? auditId);

    [LoggerMessage(4051, LogLevel.Information, "Automatic recovery after an outage of {Outage}: another worker is recovering; this one does nothing")]
    public static partial void AutoRecoveryBusy(ILogger logger, TimeSpan outage);

    [LoggerMessage(4052, LogLevel.Error, "Automatic recovery after an outage of {Outage} failed; replay the failed rows by hand (docs/operating.md)")]
    public static partial void AutoRecoveryFailed(ILogger logger, Exception exception, TimeSpan outage);

    [LoggerMessage(4053, LogLevel.Information, "An outage that began at {Since} ended; Outbox:AutoRecover is off, so the rows that gave up with outage answers during it stay failed: replay them ('hermes replay', docs/operating.md)")]
    public static partial void OutageEndedWithoutRecovery(ILogger logger, DateTimeOffset since);

    [LoggerMessage(4020, LogLevel.Information, "Listening on channel {Channel} for new outbox rows")]
    public static partial void Listening(ILogger logger, string channel);

    [LoggerMessage(4021, LogLevel.Warning, "The LISTEN connection failed; reconnecting in {Delay} (rows are still found by polling meanwhile)")]
    public static partial void ListenerLost(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(4022, LogLevel.Warning, "The database URL goes through a transaction-pooling PgBouncer, where LISTEN does not work, and no direct URL is set (DATABASE_DIRECT_URL, POSTGRES_URL_NON_POOLING or ConnectionStrings:HermesDirect): polling only, every {PollInterval}")]
    public static partial void PollingOnly(ILogger logger, TimeSpan pollInterval);

    [LoggerMessage(4023, LogLevel.Information, "Outbox:Listen is false: polling only, every {PollInterval}")]
    public static partial void ListenDisabled(ILogger logger, TimeSpan pollInterval);

    [LoggerMessage(4030, LogLevel.Error, "Claiming outbox rows failed; trying again in {Delay}")]
    public static partial void ClaimFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(4031, LogLevel.Error, "Writing {Count} delivery outcomes failed (try {Try}); trying again")]
    public static partial void WriteFailed(ILogger logger, Exception exception, int count, int @try);

    [LoggerMessage(4032, LogLevel.Error, "Gave up writing {Count} delivery outcomes; those rows come back when their lease ends and are delivered again (the receiver deduplicates on webhook-id)")]
    public static partial void WriteGaveUp(ILogger logger, int count);

    [LoggerMessage(4033, LogLevel.Error, "PostgreSQL refused a batch of {Count} delivery outcomes ({Reason}); writing them one by one")]
    public static partial void OutcomesIsolated(ILogger logger, int count, string reason);

    [LoggerMessage(4034, LogLevel.Error, "The outcome of outbox row {OutboxId} (attempt {Attempt}) was refused on its own ({Reason}); it is written without n8n's answer")]
    public static partial void OutcomeStripped(ILogger logger, long outboxId, int attempt, string reason);

    [LoggerMessage(4035, LogLevel.Critical, "The worker cannot write delivery outcomes: {Reason}. It reports unhealthy and stops with exit code 70 so that it is restarted; the rows it held come back when their lease ends")]
    public static partial void WriterFatal(ILogger logger, string reason);

    [LoggerMessage(4036, LogLevel.Critical, "The outcome writer failed on a batch of {Count}; those rows come back when their lease ends")]
    public static partial void WriterCrashed(ILogger logger, Exception exception, int count);

    [LoggerMessage(4040, LogLevel.Information, "Released {Count} claimed rows that were not sent ({Reason})")]
    public static partial void Released(ILogger logger, int count, string reason);

    [LoggerMessage(4041, LogLevel.Information, "Outbox dispatcher {WorkerId} stopping: no more claims; waiting for {InFlight} deliveries in flight")]
    public static partial void Stopping(ILogger logger, string workerId, int inFlight);

    [LoggerMessage(4042, LogLevel.Warning, "No {Key} is set: webhook requests are not signed")]
    public static partial void NotSigned(ILogger logger, string key);

    [LoggerMessage(4043, LogLevel.Warning, "The host's shutdown timeout ended {Count} deliveries in flight; they are retried")]
    public static partial void DeliveriesAbandoned(ILogger logger, int count);

    [LoggerMessage(4044, LogLevel.Warning, "The host's shutdown timeout ({ShutdownTimeout}) is shorter than Outbox:RequestTimeout ({RequestTimeout}): deliveries in flight at shutdown may be cut off")]
    public static partial void ShutdownTimeoutShort(ILogger logger, TimeSpan shutdownTimeout, TimeSpan requestTimeout);

    [LoggerMessage(4060, LogLevel.Error, "The attempt log has no partition for {Days} day(s) of these outcomes (SQLSTATE 23514): the partition maintenance did not create them ahead; creating them now and writing again. Check the worker's maintenance (event 5011) and 'hermes doctor'")]
    public static partial void PartitionMissing(ILogger logger, int days);

    [LoggerMessage(4061, LogLevel.Critical, "The attempt log's missing partition could not be created ({Reason}); outcomes cannot be written")]
    public static partial void PartitionNotCreated(ILogger logger, string reason);
}
