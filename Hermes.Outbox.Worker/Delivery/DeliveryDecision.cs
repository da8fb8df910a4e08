using Hermes.Domain;
using Hermes.Persistence.Outbox;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// What a finished POST means for its row: an outcome to write (delivered, a retry after a delay, or failed) or a claim
/// to hand back untouched (the circuit was open, nothing was sent). <see cref="Answer"/> is n8n's answer as read, for
/// the dispatcher's telemetry and logs.
/// </summary>
public sealed record Decision(AttemptOutcome? Outcome, ReleasedClaim? Release, N8nAnswer? Answer = null)
{
    public bool IsFinalFailure => Outcome?.Outcome == DeliveryOutcomes.Failed;
}

/// <summary>
/// The decision from a result to an outcome, pure: no database, no clock, no telemetry (testable on its own). A 2xx is a
/// delivery; 410 Gone and the last attempt are final failures; everything else is a retry after the schedule's delay
/// (honouring <c>Retry-After</c>). The attempt log's error is the result's reason with a short, whole-character excerpt
/// of the answer; logs get the reason alone (see <see cref="WorkerLog"/>).
/// </summary>
public static class DeliveryDecision
{
    /// <summary>How much of an error answer is added to the stored error text.</summary>
    public const int ErrorExcerptLength = 300;

    public static Decision Decide(ClaimedMessage message, WebhookResult result, RetrySchedule schedule, Random random)
    {
        if (result.Kind == WebhookResultKind.CircuitOpen)
        {
            return new Decision(null, new ReleasedClaim(message.Id, message.Attempt, message.ReplayCount));
        }

        if (result.IsSuccess)
        {
            var answer = N8nAnswer.Read(result.Body, result.Truncated);
            if (message.IsErasure)
            {
                return Erasure(message, result, answer, schedule, random);
            }

            return new Decision(Outcome(message, result, DeliveryOutcomes.Delivered) with
            {
                ResponseExcerpt = answer.Excerpt,
                ResponseData = answer.ResponseData,
                BrevoContactId = answer.BrevoContactId,
            }, null, answer);
        }

        // 410 Gone: the receiver says this webhook is gone for good; retrying cannot help.
        var final = result.StatusCode == 410 || schedule.IsExhausted(message.Attempt);
        return Failure(message, result, final ? null : schedule.NextDelay(message.Attempt, result.RetryAfter, random));
    }

    /// <summary>
    /// A 2xx to a <c>lead.erased</c> message: confirmed only when the answer says <c>"erased": true</c>. Any other 2xx
    /// (a workflow of contract 1 that does not know the event, n8n answering before its workflow ended) confirms
    /// nothing: it is a failed attempt, retried by the schedule like any other, with the reason in the attempt log.
    /// A confirmation carries no contact id to record: the lead keeps the one it has.
    /// </summary>
    private static Decision Erasure(ClaimedMessage message, WebhookResult result, N8nAnswer answer, RetrySchedule schedule, Random random)
    {
        if (answer.Erased)
        {
            return new Decision(Outcome(message, result, DeliveryOutcomes.Delivered) with { ResponseExcerpt = answer.Excerpt }, null, answer);
        }

        var notConfirmed = result with
        {
            Error = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"n8n answered {result.StatusCode} without \"erased\": true: the CRM erasure is not confirmed (does the workflow handle {OutboxMessage.LeadErasedType}, webhook contract {WebhookContract.Version}?)"),
        };
        return Failure(message, notConfirmed, schedule.IsExhausted(message.Attempt) ? null : schedule.NextDelay(message.Attempt, result.RetryAfter, random), FailureClasses.Content);
    }

    /// <summary>
    /// A failed attempt: a retry after <paramref name="delay"/>, or the final failure when it is null. Its class is
    /// <paramref name="failureClass"/> when the caller knows better than the result (a refused 2xx, a worker error),
    /// else <see cref="OutageAnswers.Classify"/>.
    /// </summary>
    public static Decision Failure(ClaimedMessage message, WebhookResult result, TimeSpan? delay, string? failureClass = null)
    {
        var excerpt = result.Body is { } body ? N8nAnswer.ExcerptOf(body) : null;
        var error = result.Error;
        if (error is not null && !string.IsNullOrWhiteSpace(excerpt) && result.Kind == WebhookResultKind.Answered)
        {
            error += ": " + SafeText.Cut(excerpt, ErrorExcerptLength);
        }

        return new Decision(Outcome(message, result, delay is null ? DeliveryOutcomes.Failed : DeliveryOutcomes.Retry) with
        {
            Error = error is null ? null : SafeText.Storable(error),
            ResponseExcerpt = excerpt,
            RetryDelay = delay,
            FailureClass = failureClass ?? OutageAnswers.Classify(result.Kind, result.StatusCode),
        }, null);
    }

    /// <summary>The worker itself failed while delivering (a defect): recorded as a failed attempt so the row is retried, not left leased.</summary>
    public static Decision Crashed(ClaimedMessage message, DateTimeOffset now, Exception e, RetrySchedule schedule, Random random) =>
        Failure(message, new WebhookResult(WebhookResultKind.ConnectionFailed, now, now, Error: "Worker error: " + SafeText.Cut(e.GetType().Name + ": " + e.Message, 500)),
            schedule.IsExhausted(message.Attempt) ? null : schedule.NextDelay(message.Attempt, null, random), FailureClasses.Content);

    private static AttemptOutcome Outcome(ClaimedMessage message, WebhookResult result, string kind) => new()
    {
        OutboxId = message.Id,
        BackupId = message.BackupId,
        Attempt = message.Attempt,
        ReplayCount = message.ReplayCount,
        Outcome = kind,
        StartedAt = result.StartedAt,
        FinishedAt = result.FinishedAt,
        StatusCode = result.StatusCode,
    };
}
