using Hermes.Admin.AdminApi;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace Hermes.Admin.OperatorConsole.Pages;

/// <summary>
/// Sign-in with an admin key, posted (never in a URL) with an antiforgery token. A wrong key is logged without the key
/// and counted against the client's address by <see cref="AdminKeyThrottle"/>, the rule the admin API uses too; after
/// <see cref="AdminKeyThrottleOptions.KeyFailureLimit"/> wrong keys the address is refused (429) until the window ends.
/// </summary>
public sealed class SignInModel(AdminApiKeys keys, AdminKeyThrottle throttle, IOptions<ConsoleOptions> options, TimeProvider clock, AuditTrail audit, ILogger<SignInModel> logger) : PageModel
{
    public string? Error { get; private set; }

    public string ReturnUrl { get; private set; } = ConsoleExtensions.PathPrefix;

    public TimeSpan IdleTimeout => options.Value.IdleTimeout;

    public IActionResult OnGet(string? returnUrl)
    {
        ReturnUrl = SafeReturnUrl(returnUrl);
        return User.Identity?.IsAuthenticated == true ? LocalRedirect(ReturnUrl) : Page();
    }

    public async Task<IActionResult> OnPostAsync(string? key, string? returnUrl)
    {
        ReturnUrl = SafeReturnUrl(returnUrl);
        var client = AdminKeyThrottle.ClientOf(HttpContext);
        if (throttle.BlockedFor(client) is { } left)
        {
            ConsoleLog.Throttled(logger, client, left);
            Error = $"Too many wrong keys from your address. Try again in {OperatorTime.Format(left)}.";
            Response.Headers.RetryAfter = AdminKeyThrottle.RetryAfterSeconds(left);
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            return Page();
        }

        if (keys.IdOf(key?.Trim()) is not { } keyId)
        {
            ConsoleLog.WrongKey(logger, client, throttle.RecordFailure(client));
            Error = "That key was not accepted.";
            return Page();
        }

        // The audit entry first: a session the trail does not show is never handed out. Refused keys are not entries
        // (a guesser could fill the trail); they are logged (event 5201) and throttled.
        await audit.AppendAsync(AuditActor.ForKey(keyId), AuditAction.ConsoleSignIn, [], new() { ["client"] = client }, HttpContext.RequestAborted);
        await HttpContext.SignInAsync(ConsoleExtensions.Scheme, ConsoleExtensions.Principal(keyId, clock.GetUtcNow()),
            new AuthenticationProperties { IsPersistent = false, AllowRefresh = true });
        ConsoleLog.SignedIn(logger, client, keyId);
        return LocalRedirect(ReturnUrl);
    }

    /// <summary>Only a path inside the console: anything else (another host, another part of the API) goes to the overview.</summary>
    internal static string SafeReturnUrl(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url.StartsWith(ConsoleExtensions.PathPrefix, StringComparison.Ordinal)
            && (url.Length == ConsoleExtensions.PathPrefix.Length || url[ConsoleExtensions.PathPrefix.Length] is '/' or '?')
            && !url.Contains("//", StringComparison.Ordinal) && !url.Contains('\\', StringComparison.Ordinal)
            ? url
            : ConsoleExtensions.PathPrefix;
}
