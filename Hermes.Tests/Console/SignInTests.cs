using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

public sealed class SignInTests : ConsoleTest
{
    [Test]
    public async Task A_wrong_key_is_refused_and_the_right_key_opens_a_session_that_sign_out_ends()
    {
        await Page.GotoAsync("/console/leads");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/console/sign-in"), "an anonymous visit is sent to sign in");

        await Page.GetByLabel("Admin key").FillAsync("console-test-key-0123456789abcdeX");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        Assert.That(await Page.GetByRole(AriaRole.Alert).TextContentAsync(), Does.Contain("not accepted"));
        Assert.That((await Page.Context.CookiesAsync()).Select(static c => c.Name), Does.Not.Contain(".Hermes.Console"), "no session for a wrong key");

        await Page.GetByLabel("Admin key").FillAsync(Key);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/console/leads"), "back where the visit started");
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Leads", Level = 1 })).ToBeVisibleAsync();

        var session = (await Page.Context.CookiesAsync()).Single(static c => c.Name == ".Hermes.Console");
        Assert.Multiple(() =>
        {
            Assert.That(session.HttpOnly, Is.True);
            Assert.That(session.SameSite, Is.EqualTo(SameSiteAttribute.Strict));
            Assert.That(session.Path, Is.EqualTo("/console"));
            Assert.That(session.Expires, Is.EqualTo(-1), "a session cookie, gone with the browser");
            Assert.That(session.Value, Does.Not.Contain(Key));
        });

        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/console/sign-in"));
        await Page.GotoAsync("/console");
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/console/sign-in"), "signed out: the overview needs a new sign-in");
        Assert.That(Admin.Logs.Entries, Has.Some.Contains("Console sign-in refused"));
        Assert.That(string.Join("\n", Admin.Logs.Entries), Does.Not.Contain("0123456789abcde"), "no key, right or wrong, is logged");
    }
}

/// <summary>Its own API host: the throttle it fills would block the other sign-in tests from 127.0.0.1.</summary>
public sealed class SignInThrottleTests : ConsoleTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Admin:KeyFailureLimit"] = "3",
    };

    [Test]
    public async Task After_too_many_wrong_keys_even_the_right_key_is_refused()
    {
        for (var i = 0; i < 3; i++)
        {
            await SignInAsync($"wrong-key-number-{i}-0123456789");
            Assert.That(await Page.GetByRole(AriaRole.Alert).TextContentAsync(), Does.Contain("not accepted"));
        }

        var response = await Page.RunAndWaitForResponseAsync(() => SignInAsync(), static r => r.Request.Method == "POST");
        Assert.That(response.Status, Is.EqualTo(429));
        Assert.That(await Page.GetByRole(AriaRole.Alert).TextContentAsync(), Does.Contain("Too many wrong keys"));
        Assert.That((await Page.Context.CookiesAsync()).Select(static c => c.Name), Does.Not.Contain(".Hermes.Console"));
        Assert.That(Admin.Logs.Entries, Has.Some.Contains("too many wrong keys"));
    }
}

/// <summary>
/// Production, as compose and <c>kubectl port-forward</c> serve the admin host: plain HTTP on the loopback. The cookies
/// are Secure, and the browser keeps them, since it counts the loopback as a secure origin.
/// </summary>
public sealed class ProductionLoopbackSignInTests : ConsoleTest
{
    protected override string HostEnvironment => "Production";

    [Test]
    public async Task The_console_signs_in_over_the_loopback_in_Production_with_Secure_cookies()
    {
        await SignInAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();
        var session = (await Page.Context.CookiesAsync()).Single(static c => c.Name == ".Hermes.Console");
        Assert.That(session.Secure, Is.True);
        await Page.GotoAsync("/console/erase");
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Erase personal data" })).ToBeVisibleAsync();
    }
}
