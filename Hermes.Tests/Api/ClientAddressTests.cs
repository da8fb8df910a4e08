using System.Net;

namespace Hermes.Tests.Api;

/// <summary>Without trusted proxies, X-Forwarded-For is ignored (the default host of <see cref="ApiTest"/>).</summary>
public sealed class UntrustedForwardingTests : ApiTest
{
    [Test]
    public async Task Forwarded_for_header_is_ignored_without_trusted_proxies()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: static r => r.Headers.Add("X-Forwarded-For", "203.0.113.9"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await ScalarAsync<string>("SELECT host(ip_address) FROM hermes_leads"), Is.EqualTo("127.0.0.1"));
    }
}

/// <summary>With the loopback proxy trusted, the client is the last address it forwarded for that is not a trusted proxy itself.</summary>
public sealed class TrustedForwardingTests : ApiTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:TrustedProxies"] = "127.0.0.1, 10.0.0.0/8",
    };

    [TestCase("203.0.113.9", "203.0.113.9", TestName = "Client_address_comes_from_a_trusted_proxys_forwarded_for")]
    [TestCase("198.51.100.1, 203.0.113.9", "203.0.113.9", TestName = "Address_the_client_wrote_itself_is_not_believed")]
    [TestCase("203.0.113.9, 10.1.2.3", "203.0.113.9", TestName = "Trusted_proxy_networks_are_walked_through")]
    [TestCase("2001:db8::7", "2001:db8::7", TestName = "IPv6_client_address_is_stored")]
    public async Task Client_address_comes_from_trusted_proxies_only(string forwardedFor, string expected)
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: r => r.Headers.Add("X-Forwarded-For", forwardedFor));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await ScalarAsync<string>("SELECT host(ip_address) FROM hermes_leads"), Is.EqualTo(expected));
        Assert.That(await ScalarAsync<string>("SELECT payload->'metadata'->>'ipAddress' FROM hermes_outbox"), Is.EqualTo(expected));
    }
}
