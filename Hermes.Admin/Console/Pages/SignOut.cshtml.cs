using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Hermes.Admin.OperatorConsole.Pages;

/// <summary>Ends the session (a POST with an antiforgery token; the GET only shows the button).</summary>
public sealed class SignOutModel(AuditTrail audit, ILogger<SignOutModel> logger) : PageModel
{
    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync()
    {
        ConsoleLog.SignedOut(logger, User.FindFirst(ConsoleExtensions.KeyIdClaim)?.Value);
        await audit.AppendAsync(ConsoleExtensions.ActorOf(User), AuditAction.ConsoleSignOut, [], null, HttpContext.RequestAborted);
        await HttpContext.SignOutAsync(ConsoleExtensions.Scheme);
        return LocalRedirect(ConsoleExtensions.PathPrefix + "/sign-in");
    }
}
