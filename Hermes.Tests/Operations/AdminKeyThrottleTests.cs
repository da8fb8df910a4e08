using System.Net;
using Hermes.Tests.Api;

namespace Hermes.Tests.Operations;

/// <summary>
/// Wrong admin keys sent to the admin API are counted per client address by the same rule as the console's sign-in
/// (Admin:KeyFailureLimit in Admin:KeyFailureWindow); the loopback is a trusted proxy here so that each test can speak
/// from addresses of its own through X-Forwarded-For.
/// </summary>
public sealed class AdminKeyThrottleTests : OperationsTest
{
    private const string Key = "throttle-test-admin-key-0123456789abcdef";
    private HermesApiFactory StartApi() => new(ConnectionString, new Dictionary<string, string?>
    {
        ["HERMES_ADMIN_API_KEY"] = Key,
        ["Intake:TrustedProxies"] = "127.0.0.1",
        ["Admin:KeyFailureLimit"] = "3",
        ["Admin:KeyFailureWindow"] = "00:00:02",
    });

    [Test]
    public async Task After_the_limit_of_wrong_keys_an_address_gets_429_with_retry_after_even_with_the_right_key()
    {
        await using var api = StartApi();
        using var client = api.CreateApiClient();
        const string Client = "203.0.113.10";
        for (var i = 0; i < 3; i++)
        {
            using var wrong = await GetStatsAsync(client, Client, key: $"wrong-admin-key-number-{i}-0123456789abcdef");
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), $"wrong key {i + 1} of the 3 allowed");
        }

        using var blockedWrong = await GetStatsAsync(client, Client, key: "wrong-admin-key-number-3-0123456789abcdef");
        using var blockedRight = await GetStatsAsync(client, Client, bearer: Key);
        using var otherAddress = await GetStatsAsync(client, "203.0.113.11", key: Key);

        foreach (var blocked in new[] { blockedWrong, blockedRight })
        {
            Assert.That(blocked.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(blocked.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            Assert.That(blocked.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(2)));
        }

        Assert.That(otherAddress.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another address is not blocked");

        // The window ends by itself: the right key works again, without any restart.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        HttpStatusCode status;
        do
        {
            using var again = await GetStatsAsync(client, Client, key: Key);
            status = again.StatusCode;
        }
        while (status == HttpStatusCode.TooManyRequests && DateTime.UtcNow < deadline);

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), "the right key works once the window has ended");
    }

    [Test]
    public async Task Failed_admin_authentications_are_logged_with_the_client_and_never_with_the_key()
    {
        await using var api = StartApi();
        using var client = api.CreateApiClient();
        const string Client = "198.51.100.20";
        const string Guess = "guessed-admin-key-Zq81mXv3Lw0pRt5y";
        using var wrong = await GetStatsAsync(client, Client, key: Guess);
        using var wrongBearer = await GetStatsAsync(client, Client, bearer: Guess + "B");
        Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));

        var logs = string.Join("\n", api.Logs.Entries);
        Assert.That(api.Logs.Entries.Where(static e => e.Contains("198.51.100.20", StringComparison.Ordinal)).ToList(), Has.Count.EqualTo(2), logs);
        Assert.That(logs, Does.Contain("Admin request GET /api/admin/outbox/stats rejected"));
        Assert.That(logs, Does.Not.Contain("Zq81mXv3Lw0pRt5y"), "no presented key is logged");
        Assert.That(logs, Does.Not.Contain("0123456789abcdef"), "nor the configured one");
    }

    private static Task<HttpResponseMessage> GetStatsAsync(HttpClient http, string client, string? key = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outbox/stats");
        request.Headers.Add("X-Forwarded-For", client);
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        return http.SendAsync(request);
    }
}
