using System.Diagnostics;
using System.Diagnostics.Metrics;
using Hermes.ServiceDefaults;

namespace Hermes.Api.Telemetry;

/// <summary>The API's ActivitySource and Meter, both named <c>Hermes.Api</c>.</summary>
public sealed class ApiTelemetry
{
    public const string Name = "Hermes.Api";

    public static readonly ActivitySource ActivitySource = new(Name);

    public ApiTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        Accepted = meter.CreateCounter<long>("hermes.leads.accepted", "{lead}", "Leads stored and queued for delivery (idempotent replays are not counted again).");
        Rejected = meter.CreateCounter<long>("hermes.leads.rejected", "{submission}", "Submissions refused, by reason; nothing was stored for them.");
        CommitBatch = meter.CreateHistogram<int>("hermes.leads.commit.batch", "{lead}", "Leads written per committed transaction (group commit).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });
        CommitDuration = meter.CreateHistogram<double>("hermes.leads.commit.duration", "s", "Time of one committed transaction of submissions, from its first statement to the commit's answer.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        CommitWait = meter.CreateHistogram<double>("hermes.leads.commit.wait", "s", "Time a submission waited, queued, for a transaction to take it (group commit).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    }

    // Finer than ASP.NET Core's request buckets at the bottom: a commit takes about a millisecond.
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    public Counter<long> Accepted { get; }

    public Counter<long> Rejected { get; }

    public Histogram<int> CommitBatch { get; }

    public Histogram<double> CommitDuration { get; }

    public Histogram<double> CommitWait { get; }

    public void Reject(string reason) => Rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
}

/// <summary>The values of the <c>reason</c> tag of <c>hermes.leads.rejected</c>.</summary>
public static class RejectionReasons
{
    public const string Validation = "validation";
    public const string TooLarge = "too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string RateLimited = "rate_limited";
    public const string IdempotencyConflict = "idempotency_conflict";
    public const string Captcha = "captcha";
    public const string DatabaseUnavailable = "database_unavailable";
}

public static class ApiTelemetryExtensions
{
    /// <summary>The meter and source, plus OpenTelemetry export when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.</summary>
    public static WebApplicationBuilder AddHermesApiTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiTelemetry>();
        return builder;
    }

    /// <summary>
    /// Counts the 415 that routing answers by itself (a submission whose Content-Type the endpoint does not accept
    /// never reaches it), as <c>unsupported_media_type</c>.
    /// </summary>
    public static WebApplication UseHermesApiTelemetry(this WebApplication app)
    {
        app.Use(static async (context, next) =>
        {
            await next(context);
            if (context.Response.StatusCode == StatusCodes.Status415UnsupportedMediaType
                && context.GetEndpoint() is { DisplayName: "415 HTTP Unsupported Media Type" })
            {
                context.RequestServices.GetRequiredService<ApiTelemetry>().Reject(RejectionReasons.UnsupportedMediaType);
            }
        });
        return app;
    }
}
