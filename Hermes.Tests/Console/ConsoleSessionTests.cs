using System.Net;
using Hermes.Admin.OperatorConsole;
using Hermes.Admin.OperatorConsole.Pages;
using Hermes.Persistence.Operations;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc.ApplicationModels;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.OperatorConsole;

/// <summary>The console's session over plain HTTP, as Production sends it: cookie attributes, replicas, key rotation, absence without a key.</summary>
public sealed class ConsoleSessionTests : DatabaseTest
{
    private const string Key = "session-test-key-0123456789abcdef";
    private const string OtherKey = "other-test-key-0123456789abcdef-0";

    [Test]
    public async Task In_Production_the_session_cookie_is_Secure_HttpOnly_SameSite_Strict_and_scoped_to_the_console()
    {
        await using var api = new HermesAdminFactory(ConnectionString, Key);
        using var client = ConsoleHttp.Client(api);
        var (setCookies, _) = await ConsoleHttp.SignInAsync(client, Key);
        var session = setCookies.Single(static c => c.StartsWith(".Hermes.Console=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Multiple(() =>
        {
            Assert.That(session, Does.Contain("; secure"));
            Assert.That(session, Does.Contain("; httponly"));
            Assert.That(session, Does.Contain("; samesite=strict"));
            Assert.That(session, Does.Contain("; path=/console"));
            Assert.That(session, Does.Not.Contain("expires="), "a browser-session cookie");
        });
        var antiforgery = setCookies.Single(static c => c.StartsWith(".Hermes.Console.Antiforgery=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.That(antiforgery, Does.Contain("; secure").And.Contain("; httponly").And.Contain("; samesite=strict").And.Contain("; path=/console"));
    }

    [Test]
    public async Task A_session_opens_on_every_replica_with_the_key_and_ends_where_its_key_was_removed()
    {
        await using var first = new HermesAdminFactory(ConnectionString, $"{Key},{OtherKey}");
        await using var second = new HermesAdminFactory(ConnectionString, $"{OtherKey},{Key}");
        await using var rotated = new HermesAdminFactory(ConnectionString, OtherKey);
        using var firstClient = ConsoleHttp.Client(first);
        using var secondClient = ConsoleHttp.Client(second);
        using var rotatedClient = ConsoleHttp.Client(rotated);
        var (_, cookie) = await ConsoleHttp.SignInAsync(firstClient, Key);

        using var onSecond = await ConsoleHttp.GetAsync(secondClient, "/console/leads", cookie);
        using var afterRotation = await ConsoleHttp.GetAsync(rotatedClient, "/console/leads", cookie);
        using var anonymous = await ConsoleHttp.GetAsync(secondClient, "/console/leads", "");

        Assert.That(onSecond.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another replica with the same keys (in another order) opens the session");
        Assert.That(afterRotation.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), "the key that signed in is gone: sign in again");
        Assert.That(afterRotation.Headers.Location?.AbsolutePath, Is.EqualTo("/console/sign-in"));
        Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
    }

    [Test]
    public async Task The_public_API_has_no_console_and_no_admin_API_whatever_its_settings()
    {
        await using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["HERMES_ADMIN_API_KEY"] = Key });
        using var client = ConsoleHttp.Client(api);
        foreach (var path in new[] { "/console", "/console/sign-in", "/console/leads", "/api/admin/outbox/stats" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Api-Key", Key);
            using var response = await client.SendAsync(request);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
        }

        // Another program: the public API's assembly does not reference the admin host or Razor Pages, so it cannot load them.
        var references = typeof(Program).Assembly.GetReferencedAssemblies().Select(static a => a.Name).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(references, Has.None.StartsWith("Hermes.Admin").And.None.StartsWith("Microsoft.AspNetCore.Mvc.RazorPages")
                .And.None.StartsWith("Microsoft.AspNetCore.Mvc.ViewFeatures").And.None.StartsWith("Microsoft.AspNetCore.Antiforgery"));
            Assert.That(api.Services.GetServices<IPageRouteModelProvider>(), Is.Empty, "Razor Pages is not registered");
            Assert.That(api.Services.GetService<IAntiforgery>(), Is.Null, "no antiforgery");
        });
    }

    [Test]
    public void The_admin_host_does_not_start_without_a_key()
    {
        using var admin = new HermesAdminFactory(ConnectionString, "");
        var error = Assert.Catch(() => admin.CreateClient());
        Assert.That(error!.ToString(), Does.Contain("HERMES_ADMIN_API_KEY is not set"));
    }

    [Test]
    public async Task The_admin_host_serves_the_console()
    {
        await using var api = new HermesAdminFactory(ConnectionString, Key);
        using var client = ConsoleHttp.Client(api);
        using var signIn = await client.GetAsync("/console/sign-in");
        Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(api.Services.GetServices<IPageRouteModelProvider>(), Is.Not.Empty);
    }

    [TestCase("/console/leads?email=a", "/console/leads?email=a")]
    [TestCase("/console", "/console")]
    [TestCase("https://evil.example/console", "/console")]
    [TestCase("//evil.example/console", "/console")]
    [TestCase("/console//evil.example", "/console")]
    [TestCase("/console\\..\\api", "/console")]
    [TestCase("/consolex", "/console")]
    [TestCase("/api/admin/outbox", "/console")]
    [TestCase(null, "/console")]
    public void Sign_in_returns_only_to_a_page_of_the_console(string? returnUrl, string expected) =>
        Assert.That(SignInModel.SafeReturnUrl(returnUrl), Is.EqualTo(expected));

    [Test]
    public void The_chart_scales_to_a_round_maximum_and_draws_two_bars_an_hour()
    {
        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var hours = Enumerable.Range(0, 24).Select(i => new HourlyDeliveries(start.AddHours(i), i == 5 ? 37 : 0, i == 6 ? 12 : 0, i == 6 ? 2 : 0)).ToList();
        var chart = DeliveryChart.From(hours);
        Assert.Multiple(() =>
        {
            Assert.That(chart.Bars, Has.Count.EqualTo(48));
            Assert.That(chart.YTicks.Select(static t => t.Label), Is.EqualTo(new[] { "0", "25", "50" }));
            Assert.That(chart.XLabels.Select(static t => t.Label), Is.EqualTo(new[] { "00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00" }));
            var delivered = chart.Bars.Single(static b => b.Title.StartsWith("05:00 UTC: 37 delivered", StringComparison.Ordinal));
            Assert.That(delivered.Height, Is.EqualTo(DeliveryChart.PlotHeight * 37 / 50.0).Within(0.01));
            Assert.That(delivered.Y + delivered.Height, Is.EqualTo(DeliveryChart.Baseline).Within(0.01), "bars stand on the baseline");
            Assert.That(chart.Bars.Single(static b => b.Title.StartsWith("06:00 UTC: 12 failed", StringComparison.Ordinal)).Title, Does.Contain("2 gave up"));
            Assert.That(DeliveryChart.NiceCeiling(1), Is.EqualTo(1));
            Assert.That(DeliveryChart.NiceCeiling(3), Is.EqualTo(5));
            Assert.That(DeliveryChart.NiceCeiling(101), Is.EqualTo(200));
        });
        Assert.That(DeliveryChart.From([]).Bars, Is.Empty);
    }

}
