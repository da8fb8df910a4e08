using System.Net;
using System.Net.Sockets;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Operations;

/// <summary>
/// Wrong admin keys sent to the admin API are counted per client address by the same rule as the console's sign-in
/// (Admin:KeyFailureLimit in Admin:KeyFailureWindow); the loopback is a trusted proxy here so that each test can speak
/// from addresses of its own through X-Forwarded-For. The window runs on the host's clock, a <see cref="TestClock"/> moved by
/// the test.
/// </summary>
public sealed class AdminKeyThrottleTests : OperationsTest
{
    private const string Key = "throttle-test-admin-key-0123456789abcdef";
    private readonly TestClock _clock = new();

    private HermesAdminFactory StartApi() => new(ConnectionString, Key, new Dictionary<string, string?>
    {
        ["Admin:KeyFailureLimit"] = "3",
        ["Admin:KeyFailureWindow"] = "00:02:00",
    })
    { Clock = _clock };

    [Test]
    public async Task After_the_limit_of_wrong_keys_an_address_gets_429_with_the_time_left_as_retry_after_even_with_the_right_key()
    {
        await using var api = StartApi();
        var client = api.ServerAddress;
        const string Client = "127.0.0.10";
        for (var i = 0; i < 3; i++)
        {
            using var wrong = await GetStatsAsync(client, Client, key: $"wrong-admin-key-number-{i}-0123456789abcdef");
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), $"wrong key {i + 1} of the 3 allowed");
            _clock.Advance(TimeSpan.FromSeconds(10)); // the window started at the first wrong key: 30 s of it used
        }

        using var blockedWrong = await GetStatsAsync(client, Client, key: "wrong-admin-key-number-3-0123456789abcdef");
        using var blockedRight = await GetStatsAsync(client, Client, bearer: Key);
        using var otherAddress = await GetStatsAsync(client, "127.0.0.11", key: Key);

        foreach (var blocked in new[] { blockedWrong, blockedRight })
        {
            Assert.That(blocked.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(blocked.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            Assert.That(blocked.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(90)), "the time left in the 2-minute window");
        }

        Assert.That(otherAddress.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another address is not blocked");

        _clock.Advance(TimeSpan.FromSeconds(89.5));
        using var lastMoment = await GetStatsAsync(client, Client, key: Key);
        Assert.That(lastMoment.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "half a second of the window is left");
        Assert.That(lastMoment.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(1)), "rounded up to whole seconds");

        // The window ends by itself: the right key works again, without any restart, and wrong keys count afresh.
        _clock.Advance(TimeSpan.FromSeconds(0.5));
        using var again = await GetStatsAsync(client, Client, key: Key);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the right key works once the window has ended");
        using var wrongAgain = await GetStatsAsync(client, Client, key: "wrong-admin-key-number-4-0123456789abcdef");
        Assert.That(wrongAgain.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "a new window, the first of 3 wrong keys");
        using var stillAllowed = await GetStatsAsync(client, Client, key: Key);
        Assert.That(stillAllowed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Failed_admin_authentications_are_logged_with_the_client_and_never_with_the_key()
    {
        await using var api = StartApi();
        var client = api.ServerAddress;
        const string Client = "127.0.0.20";
        const string Guess = "guessed-admin-key-Zq81mXv3Lw0pRt5y";
        using var wrong = await GetStatsAsync(client, Client, key: Guess);
        using var wrongBearer = await GetStatsAsync(client, Client, bearer: Guess + "B");
        Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));

        var logs = string.Join("\n", api.Logs.Entries);
        Assert.That(api.Logs.Entries.Where(static e => e.Contains("127.0.0.20", StringComparison.Ordinal)).ToList(), Has.Count.EqualTo(2), logs);
        Assert.That(logs, Does.Contain("Admin request GET /api/admin/outbox/stats rejected"));
        Assert.That(logs, Does.Not.Contain("Zq81mXv3Lw0pRt5y"), "no presented key is logged");
        Assert.That(logs, Does.Not.Contain("0123456789abcdef"), "nor the configured one");
    }

    /// <summary>Asks from <paramref name="client"/>, a loopback address of its own (the whole 127/8 reaches the host), as another machine would.</summary>
    private static async Task<HttpResponseMessage> GetStatsAsync(Uri server, string client, string? key = null, string? bearer = null)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(client), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var http = new HttpClient(handler) { BaseAddress = server };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outbox/stats");
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
