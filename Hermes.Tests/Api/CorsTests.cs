using System.Net;

namespace Hermes.Tests.Api;

public sealed class CorsTests : ApiTest
{
    private const string Allowed = "https://www.hermessecurity.io";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:Cors:AllowedOrigins:0"] = Allowed,
        ["Intake:Cors:AllowedOrigins:1"] = "https://staging.hermessecurity.io/",
    };

    [TestCase("/api/leads")]
    [TestCase("/api/backup-lead")]
    public async Task Preflight_from_an_allowed_origin_is_granted(string path)
    {
        using var response = await PreflightAsync(path, Allowed);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.Multiple(() =>
        {
            Assert.That(Header(response, "Access-Control-Allow-Origin"), Is.EqualTo(Allowed));
            Assert.That(Header(response, "Access-Control-Allow-Methods"), Does.Contain("POST"));
            Assert.That(Header(response, "Access-Control-Allow-Headers")?.ToLowerInvariant(), Does.Contain("content-type").And.Contain("idempotency-key"));
            Assert.That(Header(response, "Access-Control-Max-Age"), Is.EqualTo("600"));
        });
    }

    [Test]
    public async Task Preflight_from_an_origin_given_with_a_trailing_slash_is_granted()
    {
        using var response = await PreflightAsync("/api/leads", "https://staging.hermessecurity.io");

        Assert.That(Header(response, "Access-Control-Allow-Origin"), Is.EqualTo("https://staging.hermessecurity.io"));
    }

    [TestCase("https://evil.example")]
    [TestCase("http://www.hermessecurity.io")]
    [TestCase("https://www.hermessecurity.io.evil.example")]
    public async Task Preflight_from_another_origin_is_not_granted(string origin)
    {
        using var response = await PreflightAsync("/api/leads", origin);

        Assert.That(response.Headers.Contains("Access-Control-Allow-Origin"), Is.False);
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Post_from_an_allowed_origin_exposes_the_headers_a_browser_needs()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: static r => r.Headers.Add("Origin", Allowed));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(Header(response, "Access-Control-Allow-Origin"), Is.EqualTo(Allowed));
        Assert.That(Header(response, "Access-Control-Expose-Headers"), Does.Contain("Location").And.Contain("Idempotent-Replayed").And.Contain("Retry-After"));
    }

    [Test]
    public async Task Post_from_another_origin_carries_no_cors_grant()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: static r => r.Headers.Add("Origin", "https://evil.example"));

        Assert.That(response.Headers.Contains("Access-Control-Allow-Origin"), Is.False);
    }

    [Test]
    public async Task Without_configured_origins_no_preflight_is_granted()
    {
        await using var factory = new HermesApiFactory(ConnectionString);
        using var client = factory.CreateApiClient();
        using var request = Preflight("/api/leads", Allowed);

        using var response = await client.SendAsync(request);

        Assert.That(response.Headers.Contains("Access-Control-Allow-Origin"), Is.False);
    }

    private async Task<HttpResponseMessage> PreflightAsync(string path, string origin)
    {
        using var request = Preflight(path, origin);
        return await Client.SendAsync(request);
    }

    private static HttpRequestMessage Preflight(string path, string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type,idempotency-key");
        return request;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
}
