using Hermes.Tests.Worker;
using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

public sealed class LeadPagesTests : ConsoleTest
{
    [Test]
    public async Task A_lead_found_by_its_email_in_any_case_shows_its_delivery_timeline()
    {
        var (receiver, worker) = await StartDeliveryAsync();
        await using var _ = receiver;
        await using var __ = worker;
        var adaRefused = 0;
        receiver.Behaviour = (request, context) => request.Body.Contains("\"Ada\"", StringComparison.Ordinal) && Interlocked.Exchange(ref adaRefused, 1) == 0
            ? WebhookReceiver.Json(500, """{"message": "n8n is restarting"}""")(context)
            : WebhookReceiver.Json(200, """{"brevoContactId": 4711, "duplicate": false}""")(context);
        await SubmitLeadAsync("grace@example.com", "Grace");
        var leadId = await SubmitLeadAsync("Ada.Lovelace@Example.com", "Ada");
        await WaitUntilAsync(async () => await OutboxStatusOfAsync(leadId) == "delivered", "the second attempt delivered");

        await SignInAsync();
        await Page.GetByRole(AriaRole.Link, new() { Name = "Leads" }).ClickAsync();
        await Page.GetByLabel("Email").FillAsync("ADA.LOVELACE@EXAMPLE.COM");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var rows = Page.Locator("table tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync("Ada.Lovelace@example.com", new() { UseInnerText = true });

        await Page.GetByRole(AriaRole.Link, new() { Name = leadId }).ClickAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync(leadId);
        await Assertions.Expect(Page.Locator("#brevo-contact-id")).ToHaveTextAsync("4711");
        await Assertions.Expect(Page.Locator("#lead-status")).ToHaveTextAsync("forwarded");
        var attempts = Page.Locator("ol.timeline li");
        await Assertions.Expect(attempts).ToHaveCountAsync(2);
        await Assertions.Expect(attempts.Nth(0)).ToContainTextAsync("HTTP 500");
        await Assertions.Expect(attempts.Nth(0)).ToContainTextAsync("n8n is restarting");
        await Assertions.Expect(attempts.Nth(1)).ToContainTextAsync("HTTP 200");
        Assert.That(await attempts.Nth(0).GetAttributeAsync("data-outcome"), Is.EqualTo("retry"));
        Assert.That(await attempts.Nth(1).GetAttributeAsync("data-outcome"), Is.EqualTo("delivered"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts a JOIN hermes_leads l ON l.id = a.lead_id WHERE l.lead_id = $1", leadId), Is.EqualTo(2),
            "the timeline shows every attempt the database holds");
    }

    [Test]
    public async Task Leads_are_paged_newest_first_and_filtered_by_time()
    {
        for (var i = 0; i < 55; i++)
        {
            await ExecuteAsync(
                """
                INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description, service_urgency,
                                          agree_to_terms, privacy_consent, source, status, created_at)
                VALUES ('lead_page_' || lpad($1::text, 3, '0'), 'Lead', $1::text, 'page' || $1 || '@example.com', 'DE', '+49 1', 'x', 'normal', true, true, 'test', 'queued',
                        timestamptz '2026-11-01T00:00:00Z' + $1 * interval '1 hour')
                """, i);
        }

        await SignInAsync();
        await Page.GotoAsync("/console/leads?from=2026-11-01T00:00:00Z");
        var rows = Page.Locator("table tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(50);
        await Assertions.Expect(rows.First).ToContainTextAsync("lead_page_054");
        await Page.GetByRole(AriaRole.Link, new() { Name = "Older leads" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(5);
        await Assertions.Expect(rows.Last).ToContainTextAsync("lead_page_000");

        await Page.GotoAsync("/console/leads?from=2026-11-01T10:00:00Z&to=2026-11-01T12:00:00Z");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        Assert.That(await rows.AllInnerTextsAsync(), Has.Some.Contains("lead_page_011").And.Some.Contains("lead_page_010"));

        await Page.GotoAsync("/console/leads?from=yesterday-ish");
        await Assertions.Expect(Page.Locator("#from-error")).ToContainTextAsync("ISO 8601");
        await Assertions.Expect(Page.GetByLabel("Created from")).ToHaveAttributeAsync("aria-invalid", "true");
    }

    [Test]
    public async Task An_unknown_lead_answers_404_with_a_page()
    {
        await SignInAsync();
        var response = await Page.GotoAsync("/console/leads/lead_doesnotexist");
        Assert.That(response!.Status, Is.EqualTo(404));
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Lead not found" })).ToBeVisibleAsync();
    }
}
