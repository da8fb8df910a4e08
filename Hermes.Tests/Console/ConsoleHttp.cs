using System.Net;
using System.Text.RegularExpressions;
using Hermes.Tests.Api;

namespace Hermes.Tests.OperatorConsole;

/// <summary>The console over plain HTTP, for tests about what the server answers rather than what a browser shows.</summary>
public static partial class ConsoleHttp
{
    /// <summary>A plain client over Kestrel that neither follows redirects nor keeps cookies: each test handles them as the point.</summary>
    public static HttpClient Client<TEntryPoint>(HermesHostFactory<TEntryPoint> host)
        where TEntryPoint : class => Client(host.ServerAddress);

    /// <summary>The same client for an API run as a process (PublishedApiTests).</summary>
    public static HttpClient Client(Uri address) =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = address };

    /// <summary>Signs in as a browser would (the form's antiforgery token and cookie); returns the Set-Cookie lines and a Cookie header for later requests.</summary>
    public static async Task<(IReadOnlyList<string> SetCookies, string Cookie)> SignInAsync(HttpClient client, string key)
    {
        using var page = await client.GetAsync("/console/sign-in");
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var token = TokenPattern().Match(await page.Content.ReadAsStringAsync()).Groups[1].Value;
        var cookies = page.Headers.GetValues("Set-Cookie").ToList();
        using var post = new HttpRequestMessage(HttpMethod.Post, "/console/sign-in")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = key, ["__RequestVerificationToken"] = token, ["returnUrl"] = "/console" }),
        };
        post.Headers.Add("Cookie", CookieHeader(cookies));
        using var answer = await client.SendAsync(post);
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await answer.Content.ReadAsStringAsync());
        var issued = answer.Headers.GetValues("Set-Cookie").ToList();
        return ([.. cookies, .. issued], CookieHeader(issued));
    }

    public static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (cookie.Length > 0)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return await client.SendAsync(request);
    }

    private static string CookieHeader(IEnumerable<string> setCookies) => string.Join("; ", setCookies.Select(static c => c.Split(';')[0]));

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
