using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Hermes.Persistence.Submissions;
using Hermes.ServiceDefaults.Http;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Hermes.Api.Intake;

/// <summary>Registration and middleware of the submission endpoints: options, client address, CORS, rate limit.</summary>
public static class IntakeExtensions
{
    internal const string CorsPolicy = "intake";
    internal const string RateLimitPolicy = "intake";

    public static WebApplicationBuilder AddHermesIntake(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<IntakeOptions>()
            .BindConfiguration(IntakeOptions.Section)
            .PostConfigure<IConfiguration>(ReadCommaSeparatedLists)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IntakeOptions>, IntakeOptionsValidator>();
        services.AddOptions<CanaryIntakeOptions>()
            .Configure<IConfiguration>(static (o, c) => o.Secret = string.IsNullOrEmpty(c[CanaryIntakeOptions.SecretKey]) ? null : c[CanaryIntakeOptions.SecretKey])
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CanaryIntakeOptions>, CanaryIntakeOptionsValidator>();
        services.AddSingleton(static sp => sp.GetRequiredService<IOptions<IntakeOptions>>().Value.ToValidationOptions());
        services.AddScoped<LeadIntake>();
        services.AddSingleton(static sp =>
        {
            var groupCommit = sp.GetRequiredService<IOptions<IntakeOptions>>().Value.GroupCommit;
            var telemetry = sp.GetRequiredService<Telemetry.ApiTelemetry>();
            return new SubmissionStoreSettings(groupCommit.MaxBatch, groupCommit.Writers)
            {
                ActivitySource = Telemetry.ApiTelemetry.ActivitySource,
                BatchCommitted = (count, took) =>
                {
                    telemetry.CommitBatch.Record(count);
                    telemetry.CommitDuration.Record(took.TotalSeconds);
                },
                Waited = waited => telemetry.CommitWait.Record(waited.TotalSeconds),
            };
        });
        services.AddSingleton<SubmissionStore>();
        services.AddHttpClient<CaptchaVerifier>();
        services.ConfigureHttpJsonOptions(static o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, IntakeJsonContext.Default));

        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<IntakeOptions>>(ConfigureForwardedHeaders);
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<IntakeOptions>>(ConfigureCors);
        services.AddRateLimiter(ConfigureRateLimiter);
        // A submission lost to an unreachable database was not stored: the 503 says so, with the intake's Retry-After.
        services.AddOptions<DatabaseUnavailableAnswer>().Configure<IOptions<IntakeOptions>>(static (answer, intake) =>
        {
            answer.RetryAfter = intake.Value.UnavailableRetryAfter;
            answer.Detail = "The database cannot be reached; nothing was stored. Please try again shortly.";
            answer.DetailFor = static e => IsCommitOutcomeUnknown(e)
                ? "The connection to the database was lost while storing this submission; it may have been stored. Please send it again shortly with the same Idempotency-Key."
                : null;
        });
        return builder;
    }

    /// <summary>The client's address from trusted proxies only, then CORS, then the rate limit (which needs that address).</summary>
    public static WebApplication UseHermesIntake(this WebApplication app)
    {
        app.UseForwardedHeaders();
        app.UseCors();
        app.UseRateLimiter();
        return app;
    }

    public static WebApplication MapHermesIntake(this WebApplication app)
    {
        app.MapLeadEndpoints();
        return app;
    }

    /// <summary><c>Intake__Cors__AllowedOrigins=https://a,https://b</c> as well as the indexed form.</summary>
    private static void ReadCommaSeparatedLists(IntakeOptions options, IConfiguration configuration)
    {
        var section = configuration.GetSection(IntakeOptions.Section);
        options.ServiceUrgencies = Split(section["ServiceUrgencies"]) ?? options.ServiceUrgencies;
        options.CompanySizes = Split(section["CompanySizes"]) ?? options.CompanySizes;
        options.TrustedProxies = Split(section["TrustedProxies"]) ?? options.TrustedProxies;
        options.Cors.AllowedOrigins = Split(section["Cors:AllowedOrigins"]) ?? options.Cors.AllowedOrigins;

        static string[]? Split(string? value) =>
            string.IsNullOrWhiteSpace(value) ? null : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>
    /// Only <c>X-Forwarded-For</c>, and only from the configured proxies: the defaults (loopback) are cleared. With
    /// no proxy configured the middleware is switched off, because empty lists would make it trust everyone.
    /// </summary>
    private static void ConfigureForwardedHeaders(ForwardedHeadersOptions forwarded, IOptions<IntakeOptions> intake)
    {
        var trusted = intake.Value.TrustedProxies ?? [];
        forwarded.ForwardedHeaders = trusted.Length > 0 ? ForwardedHeaders.XForwardedFor : ForwardedHeaders.None;
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        // Walk back through every trusted hop; the first address that is not a trusted proxy is the client.
        forwarded.ForwardLimit = null;
        foreach (var proxy in trusted)
        {
            if (IPAddress.TryParse(proxy, out var address))
            {
                forwarded.KnownProxies.Add(address);
            }
            else
            {
                forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(proxy));
            }
        }
    }

    private static void ConfigureCors(CorsOptions cors, IOptions<IntakeOptions> intake)
    {
        var settings = intake.Value.Cors;
        cors.AddPolicy(CorsPolicy, policy => policy
            .WithOrigins([.. (settings.AllowedOrigins ?? []).Select(static o => o.TrimEnd('/'))])
            .WithMethods(HttpMethods.Post)
            .WithHeaders("Content-Type", LeadEndpoints.IdempotencyKeyHeader, "traceparent", "tracestate")
            .WithExposedHeaders("Location", "Retry-After", LeadEndpoints.ReplayedHeader)
            .SetPreflightMaxAge(settings.PreflightMaxAge));
    }

    private static void ConfigureRateLimiter(RateLimiterOptions limiter)
    {
        limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        limiter.AddPolicy(RateLimitPolicy, static http =>
        {
            var settings = http.RequestServices.GetRequiredService<IOptions<IntakeOptions>>().Value.RateLimit;
            return RateLimitPartition.GetFixedWindowLimiter(ClientAddress.Partition(http.Connection.RemoteIpAddress), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = settings.PermitLimit,
                Window = settings.Window,
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        });
        limiter.OnRejected = static async (context, cancellationToken) =>
        {
            var http = context.HttpContext;
            var settings = http.RequestServices.GetRequiredService<IOptions<IntakeOptions>>().Value.RateLimit;
            var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : settings.Window;
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            http.RequestServices.GetRequiredService<Telemetry.ApiTelemetry>().Reject(Telemetry.RejectionReasons.RateLimited);
            IntakeLog.RateLimited(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IntakeExtensions)), http.Request.Path);
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails =
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Type = "https://www.rfc-editor.org/rfc/rfc6585#section-4",
                    Title = "Too many submissions",
                    Detail = $"Too many submissions from your address; try again in {seconds} seconds.",
                },
            });
        };
    }

    private static bool IsCommitOutcomeUnknown(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is CommitOutcomeUnknownException)
            {
                return true;
            }
        }

        return false;
    }
}
