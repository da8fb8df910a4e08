using System.Net;

namespace Hermes.Tests.Api;

/// <summary>
/// Three submissions per client address per minute. Each test speaks for its own client addresses through the
/// trusted loopback proxy, so the tests do not share a bucket.
/// </summary>
public sealed class RateLimitTests : ApiTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:RateLimit:PermitLimit"] = "3",
        ["Intake:RateLimit:Window"] = "00:01:00",
        ["Intake:TrustedProxies:0"] = "127.0.0.1",
    };

    [Test]
    public async Task Submission_over_the_limit_is_429_with_retry_after_and_not_stored()
    {
        var statuses = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var accepted = await PostAsAsync("203.0.113.10");
            statuses.Add((int)accepted.StatusCode);
        }

        using var limited = await PostAsAsync("203.0.113.10");

        Assert.That(statuses, Is.All.EqualTo(201));
        var problem = await ReadProblemAsync(limited, 429);
        var retryAfter = limited.Headers.RetryAfter?.Delta;
        Assert.That(retryAfter, Is.GreaterThan(TimeSpan.Zero).And.LessThanOrEqualTo(TimeSpan.FromMinutes(1)));
        Assert.That((string?)problem["title"], Is.EqualTo("Too many submissions"));
        Assert.That(await LeadCountAsync(), Is.EqualTo(3));
    }

    [Test]
    public async Task Limit_is_per_client_address()
    {
        for (var i = 0; i < 3; i++)
        {
            using var _ = await PostAsAsync("203.0.113.20");
        }

        using var limited = await PostAsAsync("203.0.113.20");
        using var other = await PostAsAsync("203.0.113.21");

        Assert.That((int)limited.StatusCode, Is.EqualTo(429));
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE ip_address = '203.0.113.21'"), Is.EqualTo(1));
    }

    [Test]
    public async Task IPv6_clients_share_a_bucket_per_64_prefix()
    {
        for (var i = 1; i <= 3; i++)
        {
            using var _ = await PostAsAsync($"2001:db8:1:2::{i}");
        }

        using var sameNetwork = await PostAsAsync("2001:db8:1:2:ffff::9");
        using var otherNetwork = await PostAsAsync("2001:db8:1:3::1");

        Assert.That((int)sameNetwork.StatusCode, Is.EqualTo(429));
        Assert.That(otherNetwork.StatusCode, Is.EqualTo(HttpStatusCode.Created));
    }

    private Task<HttpResponseMessage> PostAsAsync(string client) =>
        PostJsonAsync("/api/leads", ValidBody(), configure: r => r.Headers.Add("X-Forwarded-For", client));
}
