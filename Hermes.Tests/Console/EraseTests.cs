using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

public sealed class EraseTests : ConsoleTest
{
    [Test]
    public async Task Erasure_needs_the_address_typed_again_shows_the_Brevo_contact_id_and_leaves_no_personal_data()
    {
        var leadId = await SubmitLeadAsync("Erase.Me@example.com", "Eve");
        var keep = await SubmitLeadAsync("keep@example.com", "Kim");
        await ExecuteAsync("UPDATE hermes_leads SET brevo_contact_id = '8812', status = 'forwarded' WHERE lead_id = $1", leadId);

        await SignInAsync();
        await Page.GetByRole(AriaRole.Link, new() { Name = "Erase" }).ClickAsync();
        await Page.GetByLabel("Email address").FillAsync("erase.me@EXAMPLE.com");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Find" }).ClickAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "1 lead(s) will be erased" })).ToBeVisibleAsync();
        await Assertions.Expect(Page.Locator("table tbody tr")).ToContainTextAsync("8812");

        await Page.GetByLabel("to confirm").FillAsync("someone-else@example.com");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Erase 1 lead(s)" }).ClickAsync();
        await Assertions.Expect(Page.Locator("#erase-error")).ToContainTextAsync("Nothing was erased");
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo("Erase.Me@example.com"), "a wrong confirmation erases nothing");

        await Page.GetByLabel("to confirm").FillAsync("ERASE.ME@example.com");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Erase 1 lead(s)" }).ClickAsync();
        await Assertions.Expect(Page.Locator("#erase-done")).ToContainTextAsync("Erased 1 lead(s)");
        await Assertions.Expect(Page.Locator($"[data-brevo-contact-id='{leadId}']")).ToHaveTextAsync("8812");
        await Assertions.Expect(Page.Locator($"[data-crm-erasure='{leadId}']")).ToContainTextAsync("erasure queued");

        Assert.Multiple(async () =>
        {
            Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo("erased@erased.invalid"));
            Assert.That(await ScalarAsync<string>("SELECT first_name || ' ' || phone_number || ' ' || problem_description FROM hermes_leads WHERE lead_id = $1", leadId),
                Is.EqualTo("[erased] [erased] [erased]"));
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo("erased"));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1 AND o.payload::text LIKE '%Erase.Me%'", leadId), Is.Zero);
            Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE lead_id = $1", keep), Is.EqualTo("keep@example.com"), "another lead is untouched");
        });

        await Page.GetByRole(AriaRole.Link, new() { Name = leadId }).ClickAsync();
        await Assertions.Expect(Page.Locator("#lead-email")).ToHaveTextAsync("erased@erased.invalid");
        await Assertions.Expect(Page.Locator("#problem-description")).ToHaveTextAsync("[erased]");
        Assert.That(await Page.ContentAsync(), Does.Not.Contain("Erase.Me").And.Not.Contain("Eve"));
        await Assertions.Expect(Page.Locator("#crm-erasure-state")).ToHaveAttributeAsync("data-crm-erasure", "queued");
        await Assertions.Expect(Page.Locator("[data-outbox-type='lead.erased']")).ToHaveCountAsync(1);

        // What the worker writes when n8n answers "erased": true (tested against real n8n in Hermes.Tests/N8n).
        await ExecuteAsync("UPDATE hermes_leads SET crm_erasure_state = 'confirmed', crm_erased_at = '2026-12-06T10:00:00Z' WHERE lead_id = $1", leadId);
        await Page.ReloadAsync();
        await Assertions.Expect(Page.Locator("#crm-erasure-state")).ToHaveTextAsync("erased (confirmed by n8n)");
        await Assertions.Expect(Page.Locator("#crm-erased-at")).ToHaveTextAsync("2026-12-06 10:00:00 UTC");
        await Page.GotoAsync("/console/leads?email=erase.me@example.com");
        await Assertions.Expect(Page.GetByText("No lead matches.")).ToBeVisibleAsync();
    }
}
