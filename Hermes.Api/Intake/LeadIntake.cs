using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Hermes.Api.Telemetry;
using Hermes.Domain;
using Hermes.Persistence.Submissions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Api.Intake;

/// <summary>What became of a submission.</summary>
internal abstract record IntakeOutcome
{
    /// <summary>Stored now, or earlier under the same Idempotency-Key and body (<paramref name="Replayed"/>).</summary>
    public sealed record Stored(LeadReceipt Receipt, bool Replayed) : IntakeOutcome;

    /// <summary>Invalid; nothing was stored. Errors are keyed by field name.</summary>
    public sealed record Rejected(IReadOnlyDictionary<string, string[]> Errors) : IntakeOutcome;

    /// <summary>The Idempotency-Key belongs to a different submission; nothing was stored.</summary>
    public sealed record KeyReused : IntakeOutcome;

    /// <summary>The captcha could not be checked; nothing was stored.</summary>
    public sealed record CaptchaUnavailable : IntakeOutcome;
}

/// <summary>
/// Takes a submission from form to stored lead: validates it, honours the Idempotency-Key (looked up by
/// <see cref="SubmissionStore"/>, which holds the database side of it), checks the captcha
/// when that is switched on, and has <see cref="SubmissionStore"/> write the <c>hermes_leads</c> row and its
/// <c>hermes_outbox</c> row in one transaction (shared with the submissions arriving at the same time). Database failures are not caught here: they surface as 503 (see <c>DatabaseUnavailableHandler</c>),
/// and since both rows are in one transaction, nothing is ever half-written.
/// </summary>
internal sealed class LeadIntake(
    CaptchaVerifier captcha,
    SubmissionStore store,
    LeadValidationOptions rules,
    IOptions<IntakeOptions> options,
    ApiTelemetry telemetry,
    ILogger<LeadIntake> logger)
{
    /// <param name="form">The form as the client sent it.</param>
    /// <param name="metadata">What the request itself says about the client.</param>
    /// <param name="idempotencyKey">The already checked <c>Idempotency-Key</c>, or null.</param>
    /// <param name="fieldPrefix">Where the form sits in the body (<c>formData.</c> for the seed's shape), for error keys.</param>
    /// <param name="canary">
    /// The submission carried the canary secret (checked by the endpoint): stored as a canary, without a captcha (no
    /// human sends it) and outside the accepted-leads counter.
    /// </param>
    public async Task<IntakeOutcome> SubmitAsync(
        LeadForm form, SubmissionMetadata metadata, string? idempotencyKey, string fieldPrefix, CancellationToken cancellationToken, bool canary = false)
    {
        var validation = LeadSubmissionValidator.Validate(form, metadata, rules);
        var errors = validation.Errors.ToDictionary(e => fieldPrefix + e.Key, static e => e.Value, StringComparer.Ordinal);
        if (options.Value.Captcha.Enabled && !canary && string.IsNullOrWhiteSpace(form.CaptchaToken) && !errors.ContainsKey(fieldPrefix + "captchaToken"))
        {
            errors[fieldPrefix + "captchaToken"] = ["This field is required."];
        }

        if (errors.Count > 0 || validation.Submission is not { } submission)
        {
            IntakeLog.SubmissionRejected(logger, string.Join(", ", errors.Keys));
            telemetry.Reject(RejectionReasons.Validation);
            return new IntakeOutcome.Rejected(errors);
        }

        var requestHash = idempotencyKey is null ? null : RequestHash(form);
        if (idempotencyKey is not null && await store.FindByIdempotencyKeyAsync(idempotencyKey, cancellationToken) is { } earlier)
        {
            // A replay answers from the stored lead: the captcha token was checked (and spent) the first time.
            return Replay(earlier, requestHash);
        }

        if (options.Value.Captcha.Enabled && !canary)
        {
            switch (await captcha.VerifyAsync(submission.CaptchaToken!, submission.IpAddress, cancellationToken))
            {
                case CaptchaVerdict.Failed:
                    telemetry.Reject(RejectionReasons.Captcha);
                    return new IntakeOutcome.Rejected(new Dictionary<string, string[]>(StringComparer.Ordinal)
                    {
                        [fieldPrefix + "captchaToken"] = ["The captcha check failed; please solve it again."],
                    });
                case CaptchaVerdict.Unavailable:
                    telemetry.Reject(RejectionReasons.Captcha);
                    return new IntakeOutcome.CaptchaUnavailable();
            }
        }

        try
        {
            var receipt = await StoreAsync(submission, idempotencyKey, requestHash, canary);
            if (canary)
            {
                IntakeLog.CanaryQueued(logger, receipt.LeadId, receipt.BackupId);
            }
            else
            {
                IntakeLog.LeadQueued(logger, receipt.LeadId, receipt.BackupId);
                telemetry.Accepted.Add(1);
            }

            return new IntakeOutcome.Stored(receipt, Replayed: false);
        }
        catch (PostgresException e) when (SubmissionStore.IsIdempotencyKeyTaken(e))
        {
            // A concurrent request with the same key committed first; the unique index made this one wait for it.
            var winner = await store.FindByIdempotencyKeyAsync(idempotencyKey!, CancellationToken.None)
                ?? throw new InvalidOperationException("The Idempotency-Key clashed, but no lead holds it.", e);
            return Replay(winner, requestHash);
        }
    }

    /// <summary>
    /// The lead and its outbox row, committed by <see cref="SubmissionStore"/>. Deliberately not cancelled when the
    /// client goes away: a lead already on its way into the database is worth keeping.
    /// </summary>
    private async Task<LeadReceipt> StoreAsync(LeadSubmission submission, string? idempotencyKey, string? requestHash, bool canary)
    {
        var lead = Lead.FromSubmission(submission, LeadIdentifier.New());
        lead.IdempotencyKey = idempotencyKey;
        lead.RequestHash = requestHash;
        lead.IsCanary = canary;
        await store.StoreAsync(lead, Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity ? activity.Id : null);
        return new LeadReceipt(lead.LeadId, lead.BackupId, lead.CreatedAt!.Value);
    }

    private IntakeOutcome Replay(StoredSubmission earlier, string? requestHash)
    {
        if (!string.Equals(earlier.RequestHash, requestHash, StringComparison.Ordinal))
        {
            IntakeLog.IdempotencyKeyReused(logger, earlier.LeadId);
            telemetry.Reject(RejectionReasons.IdempotencyConflict);
            return new IntakeOutcome.KeyReused();
        }

        IntakeLog.IdempotentReplay(logger, earlier.LeadId);
        return new IntakeOutcome.Stored(new LeadReceipt(earlier.LeadId, earlier.BackupId, earlier.CreatedAt!.Value), Replayed: true);
    }

    /// <summary>
    /// SHA-256 (hex) of the canonical body: the form's fields in a fixed order, as parsed, so formatting, field
    /// order and unknown fields make no difference. The captcha token is left out: it is proof of a human, not
    /// part of the lead, and a browser retrying after a refreshed captcha sends the same lead with a new one.
    /// </summary>
    internal static string RequestHash(LeadForm form)
    {
        var canonical = JsonSerializer.SerializeToUtf8Bytes(form with { CaptchaToken = null }, IntakeJsonContext.Default.LeadForm);
        return Convert.ToHexStringLower(SHA256.HashData(canonical));
    }
}
