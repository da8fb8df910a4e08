using System.Collections.Concurrent;
using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

/// <summary>
/// The embeddable contact form (<c>deploy/contact-form</c>) as a website would serve it: its own origin, a strict
/// Content-Security-Policy, posting across origins to the API (CORS allowed for that origin only).
/// </summary>
public sealed class ContactFormTests : ConsoleTest
{
    private WebApplication? _site;
    private Uri _siteAddress = null!;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:Cors:AllowedOrigins"] = _siteAddress.GetLeftPart(UriPartial.Authority),
    };

    protected override async Task BeforeApiStartsAsync()
    {
        var folder = Path.Combine(Deploy.RepositoryFiles.Root, "deploy", "contact-form");
        (_site, _siteAddress) = await LoopbackServer.StartAsync(app =>
        {
            app.Use(async (context, next) =>
            {
                context.Response.Headers.ContentSecurityPolicy =
                    $"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {Api.ServerAddress.GetLeftPart(UriPartial.Authority)}; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";
                await next(context);
            });
            app.MapGet("/", async context =>
            {
                var html = await File.ReadAllTextAsync(Path.Combine(folder, "index.html"));
                context.Response.ContentType = "text/html; charset=utf-8";
                await context.Response.WriteAsync(html.Replace("https://hermes.example.com/api/leads", new Uri(Api.ServerAddress, "/api/leads").ToString(), StringComparison.Ordinal)
                    .Replace("data-hermes-endpoint=", "data-hermes-retry-delays=\"200,400\" data-hermes-endpoint=", StringComparison.Ordinal));
            });
            app.MapGet("/contact-form.js", context => Send(context, Path.Combine(folder, "contact-form.js"), "text/javascript; charset=utf-8"));
            app.MapGet("/contact-form.css", context => Send(context, Path.Combine(folder, "contact-form.css"), "text/css; charset=utf-8"));
        });
    }

    [OneTimeTearDown]
    public async Task StopSiteAsync()
    {
        if (_site is not null)
        {
            await _site.DisposeAsync();
        }
    }

    [Test]
    public async Task Field_errors_from_the_problem_details_appear_next_to_their_fields_and_nothing_is_stored()
    {
        await Page.GotoAsync(_siteAddress.ToString());
        await FillValidFormAsync();
        await Page.GetByLabel("Email *").FillAsync("not-an-address");
        await Page.GetByLabel("Phone *").FillAsync("12");
        await Page.GetByLabel("I agree that my details").UncheckAsync();
        var answer = await Page.RunAndWaitForResponseAsync(() => Page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync(), static r => r.Request.Method == "POST");

        Assert.That(answer.Status, Is.EqualTo(400));
        await Assertions.Expect(Page.Locator("#email-error")).ToContainTextAsync("valid email");
        await Assertions.Expect(Page.Locator("#phoneNumber-error")).ToContainTextAsync("phone number");
        await Assertions.Expect(Page.Locator("#privacyConsent-error")).ToContainTextAsync("privacy");
        await Assertions.Expect(Page.GetByLabel("Email *")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(Page.GetByLabel("First name *")).Not.ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(Page.GetByLabel("Email *")).ToBeFocusedAsync();
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);

        await Page.GetByLabel("Email *").FillAsync("ada@example.com");
        await Page.GetByLabel("Phone *").FillAsync("+44 20 7946 0958");
        await Page.GetByLabel("I agree that my details").CheckAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Thank you: we have your request" })).ToBeVisibleAsync();
        var leadId = await Page.Locator("#lead-id").TextContentAsync();
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE lead_id = $1", leadId!), Is.EqualTo("ada@example.com"));
    }

    [Test]
    public async Task A_network_failure_after_the_lead_was_stored_is_retried_with_the_same_key_and_stores_one_lead()
    {
        var keys = new ConcurrentQueue<string>();
        var posts = 0;
        await Page.RouteAsync("**/api/leads", async route =>
        {
            if (route.Request.Method != "POST")
            {
                await route.ContinueAsync();
                return;
            }

            keys.Enqueue(route.Request.Headers.TryGetValue("idempotency-key", out var key) ? key : "");
            if (Interlocked.Increment(ref posts) == 1)
            {
                // The request reaches Hermes and the lead is stored, but the answer never reaches the page.
                await route.FetchAsync();
                await route.AbortAsync("connectionreset");
                return;
            }

            await route.ContinueAsync();
        });
        await Page.GotoAsync(_siteAddress.ToString());
        await FillValidFormAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();

        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Thank you: we have your request" })).ToBeVisibleAsync();
        await Assertions.Expect(Page.Locator("#confirmation")).ToBeFocusedAsync();
        var shown = await Page.Locator("#lead-id").TextContentAsync();
        Assert.That(keys, Has.Count.EqualTo(2), "one failed POST, one retry");
        Assert.That(keys.Distinct().Single(), Does.Match("^[0-9a-f-]{36}$"), "both carried the same key");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(1), "the retry found the stored lead instead of storing another");
        Assert.That(await ScalarAsync<string>("SELECT lead_id FROM hermes_leads"), Is.EqualTo(shown), "the page shows the lead id Hermes stored");
        Assert.That(await ScalarAsync<string>("SELECT idempotency_key FROM hermes_leads"), Is.EqualTo(keys.First()));
        // The aborted first POST is what this test is about; Chromium logs it as a failed fetch.
        Assert.That(TakeBrowserProblems(), Has.All.Contains("ERR_CONNECTION_RESET").Or.Contains("Failed to fetch"));
    }

    private async Task FillValidFormAsync()
    {
        var form = TestData.ValidForm();
        await Page.GetByLabel("First name *").FillAsync(form.FirstName!);
        await Page.GetByLabel("Last name *").FillAsync(form.LastName!);
        await Page.GetByLabel("Email *").FillAsync(form.Email!);
        await Page.GetByLabel("Phone *").FillAsync(form.PhoneNumber!);
        await Page.GetByLabel("Country *").FillAsync(form.Country!);
        await Page.GetByLabel("Company", new() { Exact = true }).FillAsync(form.CompanyName!);
        await Page.GetByLabel("Company size").SelectOptionAsync("11-50");
        await Page.GetByLabel("How urgent is it?").SelectOptionAsync("urgent");
        await Page.GetByLabel("What happened? *").FillAsync(form.ProblemDescription!);
        await Page.GetByLabel("I accept the terms *").CheckAsync();
        await Page.GetByLabel("I agree that my details").CheckAsync();
    }

    private static async Task Send(HttpContext context, string path, string contentType)
    {
        context.Response.ContentType = contentType;
        await context.Response.SendFileAsync(path);
    }
}
