using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Hermes.Domain;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>One POST to make: the frozen body and what the headers are made of.</summary>
/// <param name="WebhookId">The Standard Webhooks <c>webhook-id</c>, stable across retries of one replay generation.</param>
public sealed record WebhookRequest(string WebhookId, string Payload, int Attempt, string LeadId, string? Traceparent);

/// <summary>How one POST ended.</summary>
public enum WebhookResultKind
{
    /// <summary>The receiver answered (any status).</summary>
    Answered,

    /// <summary>No complete answer within the request timeout.</summary>
    TimedOut,

    /// <summary>Refused, reset, dropped, DNS, TLS: no complete answer.</summary>
    ConnectionFailed,

    /// <summary>Not sent: the circuit is open. Not an attempt.</summary>
    CircuitOpen,
}

/// <summary>The outcome of one POST, with the answer's first <see cref="WebhookOptions.MaxResponseBytes"/> bytes.</summary>
public sealed record WebhookResult(
    WebhookResultKind Kind,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    int? StatusCode = null,
    string? ReasonPhrase = null,
    TimeSpan? RetryAfter = null,
    byte[]? Body = null,
    bool Truncated = false,
    string? Error = null)
{
    public bool IsSuccess => Kind == WebhookResultKind.Answered && StatusCode is >= 200 and <= 299;
}

/// <summary>
/// Signs and POSTs outbox messages to n8n over one pooled <see cref="HttpClient"/>, through a Polly pipeline
/// of a circuit breaker around a per-attempt timeout. No retries here: the outbox retries, durably.
/// </summary>
public sealed class WebhookClient : IDisposable
{
    public const string AttemptHeader = "Hermes-Attempt";

    private readonly HttpClient _http;
    private readonly ResiliencePipeline<WebhookResult> _pipeline;
    private readonly Uri _uri;
    private readonly IReadOnlyList<byte[]> _keys;
    private readonly WebhookOptions _webhook;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    public WebhookClient(IOptions<WebhookOptions> webhook, IOptions<OutboxOptions> outbox, DeliveryState state, TimeProvider time, ILogger<WebhookClient> logger)
    {
        _webhook = webhook.Value;
        _uri = _webhook.WebhookUri;
        _keys = _webhook.SigningKeys();
        _timeout = outbox.Value.RequestTimeout;
        _time = time;
        _http = new HttpClient(new SocketsHttpHandler
        {
            // Pooled connections, renewed now and then so a DNS change of the n8n host is followed.
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(50),
            MaxConnectionsPerServer = outbox.Value.Concurrency,
            // A redirected POST would become a GET: a redirect is an error to fix in N8N_WEBHOOK_URL.
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.All,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Hermes.Outbox", "1.0"));

        var breaker = outbox.Value.CircuitBreaker;
        _pipeline = new ResiliencePipelineBuilder<WebhookResult> { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<WebhookResult>
            {
                FailureRatio = breaker.FailureRatio,
                MinimumThroughput = breaker.MinimumThroughput,
                SamplingDuration = breaker.SamplingDuration,
                BreakDuration = breaker.BreakDuration,
                ShouldHandle = static args => ValueTask.FromResult(IsEndpointFailure(args.Outcome)),
                OnOpened = args =>
                {
                    state.CircuitOpened(args.BreakDuration);
                    WorkerLog.CircuitOpened(logger, args.BreakDuration);
                    return ValueTask.CompletedTask;
                },
                OnHalfOpened = _ =>
                {
                    state.CircuitHalfOpened();
                    WorkerLog.CircuitHalfOpened(logger);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    state.CircuitClosed();
                    WorkerLog.CircuitClosed(logger);
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(new TimeoutStrategyOptions { Timeout = _timeout })
            .Build();
    }

    /// <summary>POSTs one message. Never throws for what the network or the receiver did; only for <paramref name="cancellationToken"/>.</summary>
    public async Task<WebhookResult> SendAsync(WebhookRequest message, CancellationToken cancellationToken)
    {
        using var activity = StartActivity(message);
        var started = _time.GetUtcNow();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var outcome = await _pipeline.ExecuteOutcomeAsync(
                static async (ctx, state) =>
                {
                    // The callback must not throw: exceptions travel as outcomes through the strategies.
                    try
                    {
                        return Outcome.FromResult(await state.self.PostAsync(state.message, state.started, ctx.CancellationToken));
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
                    {
                        return Outcome.FromException<WebhookResult>(e);
                    }
                },
                context,
                (self: this, message, started));
            var result = outcome.Exception switch
            {
                null => outcome.Result!,
                BrokenCircuitException or IsolatedCircuitException => new WebhookResult(WebhookResultKind.CircuitOpen, started, _time.GetUtcNow(), Error: "Not sent: the circuit breaker is open."),
                TimeoutRejectedException => new WebhookResult(WebhookResultKind.TimedOut, started, _time.GetUtcNow(),
                    Error: string.Create(CultureInfo.InvariantCulture, $"No answer within the request timeout ({_timeout.TotalSeconds:0.###} s).")),
                OperationCanceledException when cancellationToken.IsCancellationRequested => throw new OperationCanceledException("The delivery was cancelled.", outcome.Exception, cancellationToken),
                HttpRequestException http => new WebhookResult(WebhookResultKind.ConnectionFailed, started, _time.GetUtcNow(), Error: Describe(http)),
                IOException io => new WebhookResult(WebhookResultKind.ConnectionFailed, started, _time.GetUtcNow(), Error: "The connection broke while reading the answer: " + io.Message),
                var other => throw new InvalidOperationException("The webhook call failed unexpectedly.", other),
            };
            if (activity is not null)
            {
                activity.SetTag("http.response.status_code", result.StatusCode);
                activity.SetTag("hermes.delivery.result", result.Kind.ToString());
                if (!result.IsSuccess)
                {
                    activity.SetStatus(ActivityStatusCode.Error, result.Error ?? result.StatusCode?.ToString(CultureInfo.InvariantCulture));
                }
            }

            return result;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<WebhookResult> PostAsync(WebhookRequest message, DateTimeOffset started, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(message.Payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        var headers = request.Headers;
        headers.TryAddWithoutValidation("webhook-id", message.WebhookId);
        headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        if (_keys.Count > 0)
        {
            headers.TryAddWithoutValidation("webhook-signature", WebhookSigner.Sign(message.WebhookId, timestamp, body, _keys));
        }

        headers.TryAddWithoutValidation("Idempotency-Key", message.WebhookId);
        headers.TryAddWithoutValidation(AttemptHeader, message.Attempt.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(_webhook.AuthHeaderName))
        {
            headers.TryAddWithoutValidation(_webhook.AuthHeaderName, _webhook.AuthHeaderValue);
        }

        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var (answer, truncated) = await ReadBodyAsync(response.Content, _webhook.MaxResponseBytes, cancellationToken);
        var finished = _time.GetUtcNow();
        var status = (int)response.StatusCode;
        // The reason only: the answer's excerpt is added where it is stored (DeliveryDecision), never where it is logged.
        string? error = null;
        if (status is < 200 or > 299)
        {
            error = SafeText.Clean(string.Create(CultureInfo.InvariantCulture, $"HTTP {status} {response.ReasonPhrase}"), 200);
            if (status is >= 300 and <= 399 && response.Headers.Location is { } location)
            {
                error += $": redirected to {SafeText.Clean(location.OriginalString, 300)}; set {WebhookOptions.UrlKey} to the final URL";
            }
        }

        return new WebhookResult(WebhookResultKind.Answered, started, finished, status, response.ReasonPhrase,
            RetryAfterOf(response.Headers.RetryAfter, finished), answer, truncated, error);
    }

    private static async Task<(byte[] Body, bool Truncated)> ReadBodyAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        // Sized from Content-Length when the receiver gives it (n8n's answers are small), so a short answer costs one small array.
        var expected = content.Headers.ContentLength is { } contentLength and >= 0 ? (int)Math.Min(contentLength + 1, limit + 1) : 4096;
        var buffer = new byte[Math.Clamp(expected, 1, limit + 1)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > limit)
                {
                    return (buffer[..limit], true);
                }

                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, limit + 1));
            }

            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return length > limit ? (buffer[..limit], true) : (buffer[..length], false);
            }

            length += read;
        }
    }

    /// <summary><c>Retry-After</c> as delta-seconds or as an HTTP date.</summary>
    internal static TimeSpan? RetryAfterOf(RetryConditionHeaderValue? header, DateTimeOffset now) => header switch
    {
        { Delta: { } delta } => delta < TimeSpan.Zero ? TimeSpan.Zero : delta,
        { Date: { } date } => date > now ? date - now : TimeSpan.Zero,
        _ => null,
    };

    private static bool IsEndpointFailure(Outcome<WebhookResult> outcome) => outcome switch
    {
        { Exception: HttpRequestException or TimeoutRejectedException or IOException } => true,
        { Result.StatusCode: >= 500 or 429 } => true,
        _ => false,
    };

    private static string Describe(HttpRequestException e)
    {
        var inner = e.InnerException is { } i && !string.Equals(i.Message, e.Message, StringComparison.Ordinal) ? " (" + i.Message + ")" : "";
        return $"No answer: {e.Message}{inner}";
    }

    /// <summary>
    /// A span for the attempt, child of the submission's trace, so HttpClient carries <c>traceparent</c> on.
    /// Without a listener on <c>Hermes.Outbox</c> a bare activity still continues the trace for n8n.
    /// </summary>
    private static Activity? StartActivity(WebhookRequest message)
    {
        ActivityContext.TryParse(message.Traceparent, null, isRemote: true, out var parent);
        var activity = OutboxTelemetry.ActivitySource.StartActivity("hermes.outbox.deliver", ActivityKind.Producer, parent);
        if (activity is null && message.Traceparent is not null && parent != default)
        {
            activity = new Activity("hermes.outbox.deliver").SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags).Start();
        }

        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("hermes.lead_id", message.LeadId);
            activity.SetTag("messaging.message.id", message.WebhookId);
            activity.SetTag("hermes.attempt", message.Attempt);
        }

        return activity;
    }
}
