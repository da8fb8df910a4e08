using Hermes.Tests.Faults;
using Hermes.Tests.Worker;
using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

public sealed class OverviewTests : ConsoleTest
{
    /// <summary>The console's picture in docs/operating.md, taken by <see cref="The_overview_counts_what_the_database_holds_and_charts_the_last_hours"/>.</summary>
    public const string ScreenshotPath = "Hermes.Tests/Console/console-overview.png";

    [Test]
    public async Task The_overview_counts_what_the_database_holds_and_charts_the_last_hours()
    {
        var (receiver, worker) = await StartDeliveryAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "1" });
        await using var _ = receiver;
        await using var __ = worker;
        receiver.Behaviour = static (request, context) => request.Body.Contains("fail-", StringComparison.Ordinal)
            ? WebhookReceiver.Json(500, """{"message": "Brevo refused the contact"}""")(context)
            : WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context);
        var leads = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            leads.Add(await SubmitLeadAsync(i < 2 ? $"fail-{i}@example.com" : $"ok-{i}@example.com"));
        }

        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status IN ('delivered', 'failed')") == 5, "every lead was tried");
        await worker.StopAsync();
        await AttemptDaysSinceAsync(DateTimeOffset.UtcNow.AddHours(-7));
        await ExecuteAsync("""
            INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome)
            SELECT o.id, o.lead_id, 90 + g, now() - g * interval '1 hour', 40, 200, 'delivered'
            FROM hermes_outbox o CROSS JOIN generate_series(1, 6) g WHERE o.status = 'delivered'
            """);
        await SubmitLeadAsync("waiting@example.com");

        await SignInAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(await Page.Locator("[data-count=delivered]").TextContentAsync(), Is.EqualTo("3"));
            Assert.That(await Page.Locator("[data-count=failed]").TextContentAsync(), Is.EqualTo("2"));
            Assert.That(await Page.Locator("[data-count=pending]").TextContentAsync(), Does.StartWith("1 "));
            Assert.That(await Page.Locator("[data-lead-status=forwarded]").TextContentAsync(), Is.EqualTo("3"));
            Assert.That(await Page.Locator("[data-lead-status=delivery_failed]").TextContentAsync(), Is.EqualTo("2"));
            Assert.That(await Page.Locator("[data-lead-status=queued]").TextContentAsync(), Is.EqualTo("1"));
        });

        var bars = Page.Locator("svg.chart rect.delivered");
        await Assertions.Expect(bars).ToHaveCountAsync(24);
        var drawn = 0;
        foreach (var height in await bars.EvaluateAllAsync<double[]>("bars => bars.map(b => b.getBBox().height)"))
        {
            drawn += height > 0 ? 1 : 0;
        }

        Assert.That(drawn, Is.EqualTo(7), "this hour and the six before it had deliveries");
        await Page.GetByText("The numbers, hour by hour").ClickAsync();
        var thisHour = Page.Locator("details table tbody tr").Last;
        await Assertions.Expect(thisHour.Locator("td").Nth(0)).ToHaveTextAsync("3");
        await Assertions.Expect(thisHour.Locator("td").Nth(1)).ToHaveTextAsync("2");
        await Assertions.Expect(thisHour.Locator("td").Nth(2)).ToHaveTextAsync("2");

        await Page.GetByText("The numbers, hour by hour").ClickAsync();
        var picture = Path.Combine(TestContext.CurrentContext.WorkDirectory, "console-overview.png");
        await Page.SetViewportSizeAsync(1000, 980);
        await Page.ScreenshotAsync(new() { Path = picture, Type = ScreenshotType.Png });
        TestContext.AddTestAttachment(picture, "The console's overview");
        if (Environment.GetEnvironmentVariable("HERMES_UPDATE_SCREENSHOTS") == "1")
        {
            File.Copy(picture, Path.Combine(Deploy.RepositoryFiles.Root, ScreenshotPath), overwrite: true);
        }
    }
}
