using System.Net;

namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// The console's cookies (session and antiforgery): HttpOnly, SameSite=Strict, scoped to <c>/console</c>, and Secure
/// on every answer except plain-HTTP loopback requests in Development (where <c>./run.sh</c> serves the console
/// without TLS). Production behind a TLS-terminating proxy sees plain HTTP and still marks them Secure.
/// </summary>
internal sealed class ConsoleCookieBuilder(string name, bool development) : CookieBuilder
{
    public ConsoleCookieBuilder Configure()
    {
        Name = name;
        Path = ConsoleExtensions.PathPrefix;
        HttpOnly = true;
        SameSite = SameSiteMode.Strict;
        IsEssential = true;
        SecurePolicy = CookieSecurePolicy.None;
        return this;
    }

    public override CookieOptions Build(HttpContext context, DateTimeOffset expiresFrom)
    {
        var options = base.Build(context, expiresFrom);
        options.Secure = context.Request.IsHttps || !(development && IsLoopback(context));
        return options;
    }

    private static bool IsLoopback(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address && IPAddress.IsLoopback(address);
}
