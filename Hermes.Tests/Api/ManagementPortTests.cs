using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Hermes.Tests.Api;

/// <summary>
/// With <c>Management:Port</c> set (as in the images), metrics and health are served on that port only and the public
/// port answers only the public routes: <c>/metrics</c> names the database host, login and database (Npgsql's pool
/// names), and neither it nor the health answers are anyone's business on the internet. The port is the one the
/// connection arrived on, not the <c>Host</c> header a client chooses.
/// </summary>
public sealed class ManagementPortTests : DatabaseTest
{
    private const string AdminKey = "management-port-test-admin-key-0123456789abcdef";

    private static readonly string[] ManagementPaths = ["/metrics", "/health/live", "/health/ready", "/api/health/database"];

    [Test]
    public async Task The_API_serves_metrics_and_health_only_on_its_management_port()
    {
        await using var api = new HermesApiFactory(ConnectionString, managementPort: HermesApiFactory.FreePort());
        using var publicPort = api.CreateApiClient();
        using var management = api.CreateManagementClient();

        foreach (var path in ManagementPaths)
        {
            await AssertStatusAsync(management, path, HttpStatusCode.OK);
            await AssertStatusAsync(publicPort, path, HttpStatusCode.NotFound);
            await AssertStatusAsync(publicPort, path, HttpStatusCode.NotFound, api.ManagementAddress.Authority);
        }

        await AssertStatusAsync(publicPort, "/openapi/v1.json", HttpStatusCode.OK);
        await AssertStatusAsync(management, "/openapi/v1.json", HttpStatusCode.NotFound);
        using (var created = await publicPort.PostAsJsonAsync("/api/leads", TestData.ValidForm(), JsonSerializerOptions.Web))
        {
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        }

        using (var refused = await management.PostAsJsonAsync("/api/leads", TestData.ValidForm() with { Email = "other@example.com" }, JsonSerializerOptions.Web))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        }

        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(1), "only the public port's submission was stored");
        // The exporter serves a scrape from its cache for a moment: wait for one taken after the submission.
        var metrics = "";
        await WaitUntilAsync(async () => (metrics = await management.GetStringAsync("/metrics")).Contains("hermes_leads_accepted_total", StringComparison.Ordinal),
            "the submission is counted on /metrics", TimeSpan.FromSeconds(10));
        Assert.That(metrics, Does.Contain("hermes_leads_accepted_total"));
    }

    [Test]
    public async Task The_admin_host_serves_metrics_and_health_only_on_its_management_port()
    {
        await using var admin = new HermesAdminFactory(ConnectionString, AdminKey, managementPort: HermesApiFactory.FreePort());
        using var publicPort = admin.CreateApiClient();
        using var management = admin.CreateManagementClient();

        foreach (var path in ManagementPaths)
        {
            await AssertStatusAsync(management, path, HttpStatusCode.OK);
            await AssertStatusAsync(publicPort, path, HttpStatusCode.NotFound);
            await AssertStatusAsync(publicPort, path, HttpStatusCode.NotFound, admin.ManagementAddress.Authority);
        }

        using var stats = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outbox/stats");
        stats.Headers.Add("X-Api-Key", AdminKey);
        using (var answer = await publicPort.SendAsync(stats))
        {
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the admin API stays on the admin host's own port");
        }

        using var statsOnManagement = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outbox/stats");
        statsOnManagement.Headers.Add("X-Api-Key", AdminKey);
        using (var answer = await management.SendAsync(statsOnManagement))
        {
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        }
    }

    [Test]
    public async Task Without_a_management_port_one_port_serves_everything()
    {
        await using var api = new HermesApiFactory(ConnectionString);
        using var client = api.CreateApiClient();

        foreach (var path in ManagementPaths.Append("/openapi/v1.json"))
        {
            await AssertStatusAsync(client, path, HttpStatusCode.OK);
        }
    }

    [Test]
    public void A_management_port_the_host_does_not_listen_on_stops_the_start_naming_the_key()
    {
        var port = HermesApiFactory.FreePort();
        using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["Management:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        var error = Assert.Catch(() => api.CreateApiClient());

        Assert.That(error!.ToString(), Does.Contain("Management:Port").And.Contain(port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [TestCase(null, null, null, "http://localhost:5000")]
    [TestCase(null, "8080", null, "http://*:8080")]
    [TestCase("http://+:8080;http://+:9464", "8080", null, "http://+:8080|http://+:9464")]
    [TestCase("http://+:8080", "8080", "https://+:9443", "https://+:9443")]
    public void The_addresses_read_ahead_of_the_start_follow_Kestrels_order(string? urls, string? httpPorts, string? endpoint, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = urls,
            ["http_ports"] = httpPorts,
            ["Kestrel:Endpoints:Https:Url"] = endpoint,
        }).Build();

        Assert.That(Hermes.ServiceDefaults.ManagementPortCheck.ConfiguredAddresses(configuration), Is.EqualTo(expected.Split('|')));
    }

    private static async Task AssertStatusAsync(HttpClient client, string path, HttpStatusCode expected, string? host = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        using var response = await client.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(expected), $"GET {path} on {client.BaseAddress}{(host is null ? "" : $" with Host: {host}")}");
    }
}
