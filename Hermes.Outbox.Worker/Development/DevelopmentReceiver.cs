using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hermes.Domain;
using Hermes.Outbox.Worker.Delivery;
using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Development;

/// <summary>
/// A stand-in for the n8n workflow, for local development only: when the environment is Development and
/// <c>N8N_WEBHOOK_URL</c> is not set, the worker delivers to <c>POST /dev/n8n</c> on its own port. It logs
/// each delivery (clearly labelled as not n8n), verifies the Standard Webhooks signature and timestamp the
/// way the shipped workflow does, remembers webhook ids, and answers like the workflow (webhook contract 2):
/// <c>200 {"brevoContactId": "...", "duplicate": false}</c> to <c>lead.submitted</c>, <c>200 {"erased": true, ...}</c>
/// to <c>lead.erased</c>, 422 to an event type it does not know, 401 for a bad signature. It does not exist outside
/// Development.
/// </summary>
public static class DevelopmentReceiver
{
    public const string Path = "/dev/n8n";
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    /// <summary>True when this host should use the development receiver.</summary>
    public static bool IsActive(IHostApplicationBuilder builder) =>
        builder.Environment.IsDevelopment() && string.IsNullOrWhiteSpace(builder.Configuration[WebhookOptions.UrlKey])
        && string.IsNullOrWhiteSpace(builder.Configuration[$"{WebhookOptions.Section}:Url"]);

    /// <summary>Points the webhook at <see cref="Path"/> on the worker's own first URL (default port 8081).</summary>
    public static IHostApplicationBuilder AddDevelopmentReceiver(this IHostApplicationBuilder builder)
    {
        if (!IsActive(builder))
        {
            return builder;
        }

        var own = OwnAddress(builder.Configuration["urls"]);
        builder.Services.PostConfigure<WebhookOptions>(options => options.Url = own + Path);
        builder.Services.AddSingleton<DevelopmentReceiverState>();
        return builder;
    }

    public static WebApplication MapDevelopmentReceiver(this WebApplication app)
    {
        if (app.Services.GetService<DevelopmentReceiverState>() is null)
        {
            return app;
        }

        app.MapPost(Path, static async (HttpRequest request, DevelopmentReceiverState state, IOptions<WebhookOptions> options, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        {
            var logger = loggers.CreateLogger("Hermes.DevelopmentReceiver");
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, cancellationToken);
            var body = buffer.ToArray();
            var id = request.Headers["webhook-id"].ToString();
            var verdict = Verify(id, request.Headers["webhook-timestamp"].ToString(), request.Headers["webhook-signature"].ToString(), body, options.Value.SigningKeys(), time.GetUtcNow());
            if (verdict is not null)
            {
                DevelopmentReceiverLog.Refused(logger, id, verdict);
                return Results.Json(new ReceiverError(verdict), ReceiverJsonContext.Default.ReceiverError, statusCode: StatusCodes.Status401Unauthorized);
            }

            string leadId, type;
            string? erasedContactId = null;
            try
            {
                using var payload = JsonDocument.Parse(body);
                type = payload.RootElement.GetProperty("type").GetString() ?? "";
                leadId = payload.RootElement.GetProperty("leadId").GetString() ?? "";
                if (type == OutboxMessage.LeadErasedType)
                {
                    erasedContactId = payload.RootElement.GetProperty("brevoContactId").GetString() ?? "";
                }
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                DevelopmentReceiverLog.Refused(logger, id, "the body is not a Hermes webhook payload");
                return Results.Json(new ReceiverError("not a Hermes webhook payload"), ReceiverJsonContext.Default.ReceiverError, statusCode: StatusCodes.Status400BadRequest);
            }

            if (type == OutboxMessage.LeadErasedType)
            {
                // As the workflow does after Brevo's DELETE (204, or 404: already gone): the contact is erased.
                DevelopmentReceiverLog.Erased(logger, leadId, id, erasedContactId!);
                return Results.Json(new ReceiverErasure(true, erasedContactId!, false, WebhookContract.Version), ReceiverJsonContext.Default.ReceiverErasure);
            }

            if (type != OutboxMessage.LeadSubmittedType)
            {
                var refusal = string.Create(CultureInfo.InvariantCulture, $"unknown event type {type} (webhook contract {WebhookContract.Version}: lead.submitted, lead.erased)");
                DevelopmentReceiverLog.Refused(logger, id, refusal);
                return Results.Json(new ReceiverError(refusal), ReceiverJsonContext.Default.ReceiverError, statusCode: StatusCodes.Status422UnprocessableEntity);
            }

            var duplicate = !state.ContactIds.TryAdd(id, "dev-" + Interlocked.Increment(ref state.Counter).ToString(CultureInfo.InvariantCulture));
            var contactId = state.ContactIds[id];
            DevelopmentReceiverLog.Delivered(logger, leadId, id, request.Headers["Hermes-Attempt"].ToString(), options.Value.SigningKeys().Count > 0 ? "verified" : "unsigned (no HERMES_WEBHOOK_SECRET)", contactId, duplicate);
            return Results.Json(new ReceiverAnswer(contactId, duplicate), ReceiverJsonContext.Default.ReceiverAnswer);
        }).ExcludeFromDescription();
        return app;
    }

    /// <summary>Null when the delivery is acceptable, otherwise why not (the workflow's Code node rules).</summary>
    internal static string? Verify(string id, string timestamp, string signatures, byte[] body, IReadOnlyList<byte[]> keys, DateTimeOffset now)
    {
        if (keys.Count == 0)
        {
            return null; // nothing to verify against: the worker sends unsigned requests too
        }

        if (string.IsNullOrEmpty(id) || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return "missing webhook-id or webhook-timestamp";
        }

        if ((now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > Tolerance)
        {
            return "stale or future webhook-timestamp";
        }

        var expected = WebhookSigner.Sign(id, seconds, body, keys).Split(' ');
        foreach (var given in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var candidate in expected)
            {
                if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(given), Encoding.ASCII.GetBytes(candidate)))
                {
                    return null;
                }
            }
        }

        return "no webhook-signature matches";
    }

    /// <summary>The worker's first listening URL with a wildcard host replaced by loopback; port 8081 by default.</summary>
    internal static string OwnAddress(string? urls)
    {
        var first = (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (first is null)
        {
            return "http://127.0.0.1:8081";
        }

        var normalised = first.Replace("://+", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal);
        return normalised.TrimEnd('/');
    }
}

/// <summary>Contact ids handed out per webhook id, so a redelivery gets the same answer (as the workflow's dedup does).</summary>
public sealed class DevelopmentReceiverState
{
    internal long Counter;

    internal ConcurrentDictionary<string, string> ContactIds { get; } = new(StringComparer.Ordinal);
}

/// <summary>The receiver's refusal: <c>{"error": "..."}</c>.</summary>
internal sealed record ReceiverError(string Error);

/// <summary>The receiver's answer, shaped like the workflow's: <c>{"brevoContactId": "...", "duplicate": false}</c>.</summary>
internal sealed record ReceiverAnswer(string BrevoContactId, bool Duplicate);

/// <summary>The receiver's answer to <c>lead.erased</c>, shaped like the workflow's: <c>{"erased": true, "brevoContactId": "...", "alreadyGone": false, "contract": 2}</c>.</summary>
internal sealed record ReceiverErasure(bool Erased, string BrevoContactId, bool AlreadyGone, int Contract);

/// <summary>Source-generated, so the receiver also answers in the native (AOT) build, which has no reflection-based JSON.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ReceiverError))]
[JsonSerializable(typeof(ReceiverAnswer))]
[JsonSerializable(typeof(ReceiverErasure))]
internal sealed partial class ReceiverJsonContext : JsonSerializerContext;

internal static partial class DevelopmentReceiverLog
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Information,
        Message = "DEVELOPMENT RECEIVER (not n8n): lead {LeadId} delivered as {WebhookId}, attempt {Attempt}, signature {Signature}; answered brevoContactId {ContactId} (duplicate: {Duplicate})")]
    public static partial void Delivered(ILogger logger, string leadId, string webhookId, string attempt, string signature, string contactId, bool duplicate);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "DEVELOPMENT RECEIVER (not n8n): refused {WebhookId}: {Reason}")]
    public static partial void Refused(ILogger logger, string webhookId, string reason);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Information, Message = "DEVELOPMENT RECEIVER (not n8n): lead {LeadId} erased as {WebhookId}; answered erased: true for contact {ContactId}")]
    public static partial void Erased(ILogger logger, string leadId, string webhookId, string contactId);
}
