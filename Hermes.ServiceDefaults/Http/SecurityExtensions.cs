using System.Globalization;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Hermes.ServiceDefaults.Http;

/// <summary>
/// The hardening of the public surface: security headers on every answer, HSTS on HTTPS (also when a trusted
/// TLS-terminating proxy says so with <c>X-Forwarded-Proto</c>), no <c>Server</c> banner, header limits and a
/// request timeout. The body limit, CORS (deny unless an origin is configured) and the rate limit live with the
/// intake (<c>Intake:MaxBodyBytes</c>, <c>Intake:Cors:AllowedOrigins</c>, <c>Intake:RateLimit</c>).
/// </summary>
public static class SecurityExtensions
{
    public static WebApplicationBuilder AddHermesSecurity(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidator>();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<SecurityOptions>>(static (kestrel, security) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestHeadersTotalSize = security.Value.MaxRequestHeadersTotalSize;
            kestrel.Limits.MaxRequestHeaderCount = security.Value.MaxRequestHeaderCount;
        });
        services.AddRequestTimeouts();
        services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<SecurityOptions>>(static (timeouts, security) =>
            timeouts.DefaultPolicy = new RequestTimeoutPolicy
            {
                Timeout = security.Value.RequestTimeout,
                TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
            });

        // Where the intake trusts a proxy for the client address, it trusts it for the scheme too, so HSTS is sent
        // behind a TLS-terminating proxy. Without trusted proxies nothing forwarded is believed.
        services.PostConfigure<ForwardedHeadersOptions>(static forwarded =>
        {
            if (forwarded.ForwardedHeaders != ForwardedHeaders.None)
            {
                forwarded.ForwardedHeaders |= ForwardedHeaders.XForwardedProto;
            }
        });
        return builder;
    }

    /// <summary>First in the pipeline, so every answer (errors included) carries the headers.</summary>
    public static WebApplication UseHermesSecurity(this WebApplication app)
    {
        var hsts = "max-age=" + ((long)app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value.HstsMaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture)
            + "; includeSubDomains";
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var (http, hstsValue) = ((HttpContext, string))state;
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                // The strictest policy, unless the answer set its own (the console's pages need their stylesheet).
                if (string.IsNullOrEmpty(headers.ContentSecurityPolicy))
                {
                    headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
                }

                headers["Referrer-Policy"] = "no-referrer";
                headers["Cross-Origin-Resource-Policy"] = "same-origin";
                headers.Remove("Server");
                headers.Remove("X-Powered-By");
                if (http.Request.IsHttps)
                {
                    headers.StrictTransportSecurity = hstsValue;
                }

                return Task.CompletedTask;
            }, (context, hsts));
            return next(context);
        });
        app.UseRequestTimeouts();
        return app;
    }
}
