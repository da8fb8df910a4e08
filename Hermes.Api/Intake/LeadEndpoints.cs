using System.Globalization;
using Hermes.Api.Telemetry;
using Hermes.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Hermes.Api.Intake;

/// <summary><c>POST /api/leads</c> and the seed-compatible <c>POST /api/backup-lead</c>.</summary>
internal static class LeadEndpoints
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const int MaxIdempotencyKeyLength = 255;

    public static IEndpointRouteBuilder MapLeadEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api")
            .RequireCors(IntakeExtensions.CorsPolicy)
            .RequireRateLimiting(IntakeExtensions.RateLimitPolicy)
            .AddEndpointFilter<DatabaseUnavailableMetric>()
            .WithTags("Leads");

        api.MapPost("/leads", SubmitLeadAsync)
            .WithName("SubmitLead")
            .WithSummary("Store a contact-form lead and queue it for delivery to n8n")
            .WithDescription("Answers 201 only after the lead and its outbox row are committed in one transaction. " +
                "Send an Idempotency-Key to make retries safe: the same key and body get the first answer again " +
                "(with Idempotent-Replayed: true), the same key with another body gets 422.")
            .Accepts<LeadForm>("application/json")
            .Produces<LeadAccepted>(StatusCodes.Status201Created)
            .WithErrorResponses();

        api.MapPost("/backup-lead", BackupLeadAsync)
            .WithName("BackupLead")
            .WithSummary("The seed's BackupLeadRequest/BackupLeadResponse, for the existing website")
            .WithDescription("Same validation, transaction and idempotency as POST /api/leads; errors name fields as formData.<field>. " +
                "metadata.ipAddress and metadata.timestamp are ignored: Hermes records the connection's address and its own clock. " +
                "n8nResponse is never present, as delivery to n8n happens after the answer.")
            .Accepts<BackupLeadRequest>("application/json")
            .Produces<BackupLeadResponse>(StatusCodes.Status201Created)
            .WithErrorResponses();

        return app;
    }

    private static RouteHandlerBuilder WithErrorResponses(this RouteHandlerBuilder endpoint) => endpoint
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status403Forbidden)
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
        .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
        .ProducesProblem(StatusCodes.Status429TooManyRequests)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>
    /// What both submission endpoints check before the intake: the Idempotency-Key's form, then the body (size,
    /// media type, JSON). Either the parsed body or the answer that refuses it (counted as a rejection).
    /// </summary>
    private static async Task<(T? Value, IResult? Refusal)> ReadSubmissionAsync<T>(
        HttpContext http, string? idempotencyKey, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, IntakeOptions options, CancellationToken cancellationToken)
        where T : class
    {
        if (CheckIdempotencyKey(idempotencyKey) is { } badKey)
        {
            http.RequestServices.GetRequiredService<ApiTelemetry>().Reject(RejectionReasons.Validation);
            return (null, badKey);
        }

        var body = await JsonRequestBody.ReadAsync(http.Request, type, options.MaxBodyBytes, cancellationToken);
        return body.Value is { } value ? (value, null) : (null, BodyProblemResult(http, body.Problem, body.Detail, body.Errors));
    }

    private static async Task<IResult> SubmitLeadAsync(
        HttpContext http,
        LeadIntake intake,
        IOptions<IntakeOptions> options,
        IOptions<CanaryIntakeOptions> canaries,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        [FromHeader(Name = CanaryIntakeOptions.Header)] string? canarySecret,
        CancellationToken cancellationToken)
    {
        // Checked before the body is read: a wrong canary secret stores nothing, whatever the body holds.
        if (canarySecret is not null && !canaries.Value.Admits(canarySecret))
        {
            IntakeLog.CanaryRefused(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LeadEndpoints)));
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not a canary",
                detail: $"The {CanaryIntakeOptions.Header} header does not carry this API's canary secret; nothing was stored.");
        }

        var (form, refusal) = await ReadSubmissionAsync(http, idempotencyKey, IntakeJsonContext.Default.LeadForm, options.Value, cancellationToken);
        if (form is null)
        {
            return refusal!;
        }

        var metadata = new SubmissionMetadata(UserAgentOf(http.Request), http.Connection.RemoteIpAddress);
        var outcome = await intake.SubmitAsync(form, metadata, idempotencyKey, fieldPrefix: "", cancellationToken, canary: canarySecret is not null);
        return ToResult(http, outcome, options.Value, LeadAccepted.From);
    }

    private static async Task<IResult> BackupLeadAsync(
        HttpContext http,
        LeadIntake intake,
        IOptions<IntakeOptions> options,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        CancellationToken cancellationToken)
    {
        var (request, refusal) = await ReadSubmissionAsync(http, idempotencyKey, IntakeJsonContext.Default.BackupLeadRequest, options.Value, cancellationToken);
        if (request is null)
        {
            return refusal!;
        }

        if (request.FormData is not { } formData)
        {
            http.RequestServices.GetRequiredService<ApiTelemetry>().Reject(RejectionReasons.Validation);
            return Invalid(new Dictionary<string, string[]>(StringComparer.Ordinal) { ["formData"] = ["This field is required."] });
        }

        // The seed put the captcha token in the metadata; the form's own field wins when both are there.
        var form = string.IsNullOrWhiteSpace(formData.CaptchaToken) ? formData with { CaptchaToken = request.Metadata?.CaptchaToken } : formData;
        var metadata = new SubmissionMetadata(UserAgentOf(http.Request) ?? request.Metadata?.UserAgent, http.Connection.RemoteIpAddress);
        var outcome = await intake.SubmitAsync(form, metadata, idempotencyKey, fieldPrefix: "formData.", cancellationToken);
        return ToResult(http, outcome, options.Value, BackupLeadResponse.From);
    }

    private static IResult ToResult<T>(HttpContext http, IntakeOutcome outcome, IntakeOptions options, Func<LeadReceipt, T> answer) => outcome switch
    {
        IntakeOutcome.Stored stored => Created(http, stored, answer(stored.Receipt)),
        IntakeOutcome.Rejected rejected => Invalid(rejected.Errors),
        IntakeOutcome.KeyReused => TypedResults.Problem(
            statusCode: StatusCodes.Status422UnprocessableEntity,
            title: "Idempotency-Key already used for a different submission",
            detail: "This Idempotency-Key was first sent with a different body. Use a new key for a new submission."),
        IntakeOutcome.CaptchaUnavailable => Unavailable(http, options, "The captcha could not be checked right now; your submission was not stored. Please try again shortly."),
        _ => throw new InvalidOperationException($"Unexpected outcome {outcome}."),
    };

    private static Created<T> Created<T>(HttpContext http, IntakeOutcome.Stored stored, T body)
    {
        if (stored.Replayed)
        {
            http.Response.Headers[ReplayedHeader] = "true";
        }

        return TypedResults.Created($"/api/leads/{stored.Receipt.LeadId}", body);
    }

    private static ValidationProblem Invalid(IReadOnlyDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The submission is not valid", detail: "Correct the fields listed in 'errors' and send it again.");

    internal static IResult Unavailable(HttpContext http, IntakeOptions options, string detail)
    {
        http.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.UnavailableRetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Temporarily unavailable", detail: detail);
    }

    private static IResult BodyProblemResult(HttpContext http, BodyProblem problem, string? detail, IReadOnlyDictionary<string, string[]>? errors)
    {
        IntakeLog.BodyRefused(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LeadEndpoints)), problem);
        http.RequestServices.GetRequiredService<ApiTelemetry>().Reject(problem switch
        {
            BodyProblem.TooLarge => RejectionReasons.TooLarge,
            BodyProblem.UnsupportedMediaType => RejectionReasons.UnsupportedMediaType,
            _ => RejectionReasons.Validation,
        });
        return problem switch
        {
            BodyProblem.UnsupportedMediaType => TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type", detail: detail),
            BodyProblem.TooLarge => TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large", detail: detail,
                type: "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14"),
            BodyProblem.WrongTypes => TypedResults.ValidationProblem(errors ?? new Dictionary<string, string[]>(), title: "The submission is not valid", detail: detail),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed request body", detail: detail),
        };
    }

    /// <summary>A key is 1–255 visible ASCII characters (a UUID is typical); anything else is refused before the body is read.</summary>
    private static ValidationProblem? CheckIdempotencyKey(string? key)
    {
        if (key is null)
        {
            return null;
        }

        var ok = key.Length is > 0 and <= MaxIdempotencyKeyLength && key.All(static c => c is >= '!' and <= '~');
        return ok ? null : TypedResults.ValidationProblem(
            new Dictionary<string, string[]>(StringComparer.Ordinal) { [IdempotencyKeyHeader] = [$"Must be 1 to {MaxIdempotencyKeyLength} visible ASCII characters, e.g. a UUID."] },
            title: "The Idempotency-Key header is not valid");
    }

    private static string? UserAgentOf(HttpRequest request) =>
        request.Headers.UserAgent.Count > 0 ? request.Headers.UserAgent.ToString() : null;
}
