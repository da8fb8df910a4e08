using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

/// <summary>What protects the console in the browser: antiforgery, the CSP (and that this suite would notice a violation), keyboard use, phone width.</summary>
public sealed class ConsoleSecurityTests : ConsoleTest
{
    [Test]
    public async Task A_forged_post_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        var leadId = await SubmitLeadAsync("victim@example.com");
        await SignInAsync();

        // The session cookie goes along (same browser context), the antiforgery token does not.
        var erase = await Page.APIRequest.PostAsync("/console/erase", new() { Form = Form("email", "victim@example.com", "confirmation", "victim@example.com") });
        var replay = await Page.APIRequest.PostAsync("/console/deliveries/replay", new() { Form = Form("status", "failed") });
        var signOut = await Page.APIRequest.PostAsync("/console/sign-out", new() { Form = Form("x", "y") });

        Assert.Multiple(async () =>
        {
            Assert.That(erase.Status, Is.EqualTo(400));
            Assert.That(replay.Status, Is.EqualTo(400));
            Assert.That(signOut.Status, Is.EqualTo(400));
            Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo("victim@example.com"));
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo("queued"));
        });

        await Page.GotoAsync("/console");
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();
        Assert.That(new Uri(Page.Url).AbsolutePath, Is.EqualTo("/console"), "the forged sign-out did not end the session");
    }

    [Test]
    public async Task Every_page_carries_the_strict_policy_and_the_suite_notices_a_violation()
    {
        var leadId = await SubmitLeadAsync();
        await SignInAsync();
        foreach (var path in new[] { "/console", "/console/leads", "/console/leads?email=ada@example.com", $"/console/leads/{leadId}", "/console/deliveries",
            "/console/deliveries?status=all", "/console/deliveries/replay?status=failed", $"/console/erase?leadId={leadId}", "/console/erase", "/console/sign-out" })
        {
            var response = await Page.GotoAsync(path);
            Assert.That(response!.Status, Is.EqualTo(200), path);
            var headers = await response.AllHeadersAsync();
            Assert.That(headers["content-security-policy"], Does.Contain("default-src 'none'").And.Contain("style-src 'self'").And.Not.Contain("unsafe-inline"), path);
            Assert.That(headers["cache-control"], Is.EqualTo("no-store"), path);
            Assert.That(headers["server-timing"], Does.Match(@"^app;dur=\d+\.\d$"), path);
            Assert.That(await Page.Locator("h1").CountAsync(), Is.EqualTo(1), $"{path}: one heading names the page");
            Assert.That(await UnlabelledControlsAsync(), Is.Empty, $"{path}: every control has a label");
        }

        Assert.That(TakeBrowserProblems(), Is.Empty, "no page logged an error or violated its policy");
        await Page.EvaluateAsync("() => document.querySelector('main').setAttribute('style', 'color: red')");
        await Page.WaitForTimeoutAsync(200);
        Assert.That(TakeBrowserProblems(), Has.Some.Contains("CSP violation").Or.Some.Contains("Content Security Policy"),
            "an inline style is refused and reported: the check above would have seen one");
    }

    [Test]
    public async Task The_console_works_from_the_keyboard_and_at_phone_width()
    {
        await Page.SetViewportSizeAsync(375, 740);
        await SubmitLeadAsync();
        await Page.GotoAsync("/console/sign-in");
        await Page.Keyboard.PressAsync("Tab");
        Assert.That(await Page.EvaluateAsync<string>("() => document.activeElement.textContent"), Is.EqualTo("Skip to content"), "the first stop skips the header");
        for (var i = 0; i < 6 && await Page.EvaluateAsync<string>("() => document.activeElement.id") != "key"; i++)
        {
            await Page.Keyboard.PressAsync("Tab");
        }

        await Page.Keyboard.TypeAsync(Key);
        await Page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();

        foreach (var path in new[] { "/console", "/console/leads?email=ada@example.com", "/console/deliveries?status=all", "/console/erase" })
        {
            await Page.GotoAsync(path);
            var width = await Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
            Assert.That(width, Is.LessThanOrEqualTo(375), $"{path}: nothing sticks out sideways at phone width (wide tables scroll in their box)");
        }
    }

    private IFormData Form(params string[] pairs)
    {
        var form = Page.APIRequest.CreateFormData();
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            form.Set(pairs[i], pairs[i + 1]);
        }

        return form;
    }

    private Task<string[]> UnlabelledControlsAsync() => Page.EvaluateAsync<string[]>("""
        () => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
            .map(e => e.outerHTML)
        """);
}
