using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

/// <summary>The console's audit trail page in Chromium: what an operator did through the console, as the database recorded it.</summary>
public sealed class AuditPageTests : ConsoleTest
{
    [Test]
    public async Task Sign_in_an_erase_and_sign_out_are_in_the_trail_the_page_shows_by_lead()
    {
        var leadId = await SubmitLeadAsync(email: "audit.page@example.com");
        await SignInAsync();
        await Page.GotoAsync($"/console/erase?leadId={leadId}");
        await Page.GetByLabel("to confirm").FillAsync(leadId);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Erase 1 lead(s)" }).ClickAsync();
        await Assertions.Expect(Page.Locator("#erase-done")).ToBeVisibleAsync();

        await Page.GetByRole(AriaRole.Link, new() { Name = "Audit trail" }).ClickAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Audit trail", Level = 1 })).ToBeVisibleAsync();
        var rows = Page.GetByRole(AriaRole.Row);
        Assert.That(await rows.Nth(1).TextContentAsync(), Does.Contain("erase").And.Contain(leadId).And.Contain("succeeded"), "newest first");
        Assert.That(await rows.Nth(2).TextContentAsync(), Does.Contain("console_sign_in"));
        var actor = await ScalarAsync<string>("SELECT actor FROM hermes_audit WHERE action = 'erase'");
        Assert.That(actor, Does.Match("^key:[0-9a-f]{16}$"));
        Assert.That(await rows.Nth(1).TextContentAsync(), Does.Contain(actor));

        await Page.GetByLabel("Lead id").FillAsync(leadId);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        Assert.That(await rows.CountAsync(), Is.EqualTo(2), "the header and the erase: the sign-in names no lead");

        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        Assert.That(await ScalarAsync<string>("SELECT string_agg(action || ' ' || actor, ', ' ORDER BY id) FROM hermes_audit"),
            Is.EqualTo($"console_sign_in {actor}, erase {actor}, console_sign_out {actor}"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE detail::text ILIKE '%audit.page%'"), Is.Zero, "no address in the trail");
        Assert.That(TakeBrowserProblems(), Is.Empty);
    }
}
