using Hermes.Tests.Worker;
using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

public sealed class ReplayTests : ConsoleTest
{
    [Test]
    public async Task A_failed_delivery_is_previewed_without_change_then_replayed_and_delivered_by_a_real_worker()
    {
        var (receiver, worker) = await StartDeliveryAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "2" });
        await using var _ = receiver;
        await using var __ = worker;
        receiver.Behaviour = static (_, context) => WebhookReceiver.Json(503, """{"message": "Brevo is down"}""")(context);
        var failed = await SubmitLeadAsync("failed@example.com");
        var other = await SubmitLeadAsync("also-failed@example.com");
        await WaitUntilAsync(async () => await OutboxStatusOfAsync(failed) == "failed" && await OutboxStatusOfAsync(other) == "failed", "both deliveries gave up");
        receiver.Behaviour = static (_, context) => WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context);
        var requestsBefore = receiver.Count;

        await SignInAsync();
        await Page.GetByRole(AriaRole.Link, new() { Name = "Failed deliveries" }).ClickAsync();
        await Assertions.Expect(Page.Locator("table tbody tr")).ToHaveCountAsync(2);
        await Page.GetByLabel($"Choose lead {failed}").CheckAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Preview replay of the chosen rows" }).ClickAsync();

        await Assertions.Expect(Page.Locator("#replay-preview")).ToContainTextAsync("1 failed rows of 1 chosen lead(s)");
        await Assertions.Expect(Page.Locator("#replay-leads")).ToHaveTextAsync(failed);
        Assert.That(await OutboxStatusOfAsync(failed), Is.EqualTo("failed"), "the dry run changes nothing");
        Assert.That(receiver.Count, Is.EqualTo(requestsBefore));

        await Page.GetByRole(AriaRole.Button, new() { Name = "Replay 1 delivery(ies)" }).ClickAsync();
        await Assertions.Expect(Page.Locator("#replay-done")).ToContainTextAsync("were put back to pending");
        await WaitUntilAsync(async () => await OutboxStatusOfAsync(failed) == "delivered", "the worker delivered the replayed row");
        Assert.That(await OutboxStatusOfAsync(other), Is.EqualTo("failed"), "only the chosen lead was replayed");
        Assert.That(await ScalarAsync<int>("SELECT o.replay_count FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", failed), Is.EqualTo(1));
        Assert.That(receiver.Requests.Skip(requestsBefore).Single().Body, Does.Contain(failed), "the receiver got the replayed lead");

        await Page.GetByRole(AriaRole.Link, new() { Name = failed }).ClickAsync();
        await Assertions.Expect(Page.Locator("#lead-status")).ToHaveTextAsync("forwarded");
        await Assertions.Expect(Page.Locator("#brevo-contact-id")).ToHaveTextAsync("4711");
        await Assertions.Expect(Page.Locator("ol.timeline li").Last).ToContainTextAsync("HTTP 200");
    }

    [Test]
    public async Task All_failed_since_a_time_are_previewed_and_a_relative_time_is_fixed_at_the_preview()
    {
        var (receiver, worker) = await StartDeliveryAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "1" });
        await using var _ = receiver;
        await using var __ = worker;
        receiver.Behaviour = static (_, context) => WebhookReceiver.Json(500, "{}")(context);
        var recent = await SubmitLeadAsync("recent@example.com");
        var old = await SubmitLeadAsync("old@example.com");
        await WaitUntilAsync(async () => await OutboxStatusOfAsync(recent) == "failed" && await OutboxStatusOfAsync(old) == "failed", "both gave up");
        await ExecuteAsync("UPDATE hermes_outbox o SET created_at = now() - interval '3 hours' FROM hermes_leads l WHERE l.id = o.lead_id AND l.lead_id = $1", old);
        await worker.StopAsync();

        await SignInAsync();
        await Page.GotoAsync("/console/deliveries");
        await Page.Locator("#all-since").FillAsync("2h");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Preview replay of all failed since…" }).ClickAsync();
        await Assertions.Expect(Page.Locator("#replay-preview")).ToContainTextAsync("1 failed rows of every lead, created since");
        await Assertions.Expect(Page.Locator("#replay-leads")).ToHaveTextAsync(recent);
        var since = await Page.Locator("input[name=since]").GetAttributeAsync("value");
        Assert.That(DateTimeOffset.Parse(since!, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(DateTimeOffset.UtcNow.AddHours(-2)).Within(TimeSpan.FromMinutes(1)),
            "the confirmation carries the time the preview computed, not '2h'");

        await Page.GetByRole(AriaRole.Button, new() { Name = "Replay 1 delivery(ies)" }).ClickAsync();
        await Assertions.Expect(Page.Locator("#replay-done")).ToBeVisibleAsync();
        Assert.That(await OutboxStatusOfAsync(recent), Is.EqualTo("pending"));
        Assert.That(await OutboxStatusOfAsync(old), Is.EqualTo("failed"), "older than 'since': left alone");
    }
}
