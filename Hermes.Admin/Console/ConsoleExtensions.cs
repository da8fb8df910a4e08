using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using Hermes.Admin.AdminApi;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// The operator console under <c>/console</c>: server-rendered Razor Pages (no script at all, so the strictest
/// Content-Security-Policy holds), signed in with an admin key, calling the same operations as the admin API and the
/// CLI. Part of the admin host (Hermes.Admin), beside the admin API.
/// </summary>
public static class ConsoleExtensions
{
    public const string PathPrefix = "/console";
    public const string Scheme = "HermesConsole";
    public const string Policy = "HermesConsole";
    public const string KeyIdClaim = "hermes:key-id";
    public const string SignedInAtClaim = "hermes:signed-in-at";

    /// <summary>Isolates the console's protected data from any other application sharing the key ring.</summary>
    public const string DataProtectionApplicationName = "hermes-admin";

    /// <summary>No script, no frames, styles and images from the console itself, forms posting only to it.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public static WebApplicationBuilder AddHermesConsole(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ConsoleOptions>, ConsoleOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);

        services.AddRazorPages(static pages =>
        {
            pages.RootDirectory = "/Console/Pages";
            pages.Conventions.AuthorizeFolder("/", Policy);
            pages.Conventions.AllowAnonymousToPage("/SignIn");
        });
        services.AddAuthorizationBuilder().AddPolicy(Policy, static policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser());
        services.AddAuthentication().AddCookie(Scheme);
        services.AddOptions<CookieAuthenticationOptions>(Scheme).Configure<IHostEnvironment, IOptions<ConsoleOptions>>(static (cookie, environment, console) =>
        {
            cookie.Cookie = new ConsoleCookieBuilder(".Hermes.Console", environment.IsDevelopment()).Configure();
            cookie.LoginPath = PathPrefix + "/sign-in";
            cookie.LogoutPath = PathPrefix + "/sign-out";
            cookie.AccessDeniedPath = PathPrefix + "/sign-in";
            cookie.ReturnUrlParameter = "returnUrl";
            cookie.ExpireTimeSpan = console.Value.IdleTimeout;
            cookie.SlidingExpiration = true;
            cookie.Events.OnValidatePrincipal = ValidateSessionAsync;
        });
        services.AddOptions<AntiforgeryOptions>().Configure<IHostEnvironment>(static (antiforgery, environment) =>
        {
            antiforgery.Cookie = new ConsoleCookieBuilder(".Hermes.Console.Antiforgery", environment.IsDevelopment()).Configure();
            antiforgery.FormFieldName = "__RequestVerificationToken";
        });

        // Cookies and antiforgery tokens must open on every admin replica and survive a restart: ASP.NET Core Data
        // Protection with its key ring in the Hermes database, which every replica reads (ConsoleKeyRingContext).
        services.AddDbContext<ConsoleKeyRingContext>(static (sp, options) => options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddDataProtection()
            .SetApplicationName(DataProtectionApplicationName)
            .PersistKeysToDbContext<ConsoleKeyRingContext>();
        return builder;
    }

    /// <summary>Adds the console's headers and authentication to the pipeline and maps its pages.</summary>
    public static WebApplication MapHermesConsole(this WebApplication app)
    {
        app.UseWhen(static http => http.Request.Path.StartsWithSegments(PathPrefix), static console => console.Use(static (http, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            http.Response.OnStarting(static state =>
            {
                var (context, start) = ((HttpContext, long))state;
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                if (!context.Request.Path.StartsWithSegments(ConsoleAssets.Path))
                {
                    headers.CacheControl = "no-store";
                }

                // The page's own time on the server, readable in the browser's developer tools and by bench/console.
                headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture, $"app;dur={Stopwatch.GetElapsedTime(start).TotalMilliseconds:F1}");
                return Task.CompletedTask;
            }, (http, started));
            return next(http);
        }));
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapRazorPages();
        ConsoleAssets.Map(app);
        ConsoleLog.Enabled(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleExtensions).FullName!));
        return app;
    }

    /// <summary>A session ends when its key is no longer configured, or <see cref="ConsoleOptions.MaxSessionLength"/> after sign-in.</summary>
    private static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var services = context.HttpContext.RequestServices;
        var keys = services.GetRequiredService<AdminApiKeys>();
        var options = services.GetRequiredService<IOptions<ConsoleOptions>>().Value;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var principal = context.Principal;
        var signedInAt = long.TryParse(principal?.FindFirstValue(SignedInAtClaim), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : DateTimeOffset.MinValue;
        var reason = !keys.IsConfiguredId(principal?.FindFirstValue(KeyIdClaim)) ? "its admin key is no longer configured"
            : now - signedInAt > options.MaxSessionLength ? "it reached Console:MaxSessionLength"
            : null;
        if (reason is not null)
        {
            ConsoleLog.SessionEnded(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleExtensions).FullName!), reason);
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }

    /// <summary>Who the audit trail names for a signed-in operator: the session's key id.</summary>
    internal static AuditActor ActorOf(ClaimsPrincipal user) =>
        AuditActor.ForKey(user.FindFirstValue(KeyIdClaim) ?? throw new InvalidOperationException("The console session carries no key id."));

    /// <summary>The principal of a session: which key signed in (by id), and when.</summary>
    internal static ClaimsPrincipal Principal(string keyId, DateTimeOffset now) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, "operator"),
            new Claim(KeyIdClaim, keyId),
            new Claim(SignedInAtClaim, now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        ],
        Scheme));
}
