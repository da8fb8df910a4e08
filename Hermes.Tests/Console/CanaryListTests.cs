using System.Net.Http.Json;
using Hermes.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

/// <summary>
/// The console's lead list in Chromium: canaries (stored by the real API with the canary secret) are hidden by default,
/// and the <i>Canaries only</i> box lists them alone, as the database marks them.
/// </summary>
public sealed class CanaryListTests : ConsoleTest
{
    private const string Secret = "console-canary-secret-0123456789abcdef";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["HERMES_CANARY_SECRET"] = Secret };

    [Test]
    public async Task The_lead_list_hides_canaries_and_the_canaries_only_box_shows_them_alone()
    {
        var ada = await SubmitLeadAsync("ada@example.com", "Ada");
        var grace = await SubmitLeadAsync("grace@example.com", "Grace");
        string canary;
        using (var client = Api.CreateApiClient())
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(TestData.ValidForm("canary@example.com") with { FirstName = "Hermes", LastName = "Canary" }) })
        {
            request.Headers.Add("Hermes-Canary", Secret);
            using var response = await client.SendAsync(request);
            Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
            canary = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("leadId").GetString()!;
        }

        Assert.That(await ScalarAsync<string>("SELECT string_agg(lead_id || ':' || is_canary, ',' ORDER BY id) FROM hermes_leads"),
            Is.EqualTo($"{ada}:false,{grace}:false,{canary}:true"), "the database marks the one sent with the secret");

        await SignInAsync();
        await Page.GetByRole(AriaRole.Link, new() { Name = "Leads" }).ClickAsync();
        var box = Page.GetByLabel("Canaries only");
        await Assertions.Expect(box).Not.ToBeCheckedAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var rows = Page.Locator("table tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        var listed = string.Join("\n", await rows.AllInnerTextsAsync());
        Assert.That(listed, Does.Contain(ada).And.Contain(grace).And.Not.Contain(canary).And.Not.Contain("(canary)"), "hidden by default");

        await box.CheckAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync(canary);
        await Assertions.Expect(rows.First).ToContainTextAsync("Hermes Canary (canary)");
        Assert.That(new Uri(Page.Url).Query, Does.Contain("canary=true"), "the filter is in the address, so the view can be linked");
        await Assertions.Expect(Page.GetByLabel("Canaries only")).ToBeCheckedAsync();

        await Page.GetByLabel("Canaries only").UncheckAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        Assert.That(TakeBrowserProblems(), Is.Empty);
    }
}
