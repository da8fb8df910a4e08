using System.Net;
using System.Text.Json.Nodes;
using Hermes.Api.Telemetry;
using Hermes.Persistence.Local;
using Hermes.Tests.Api;

namespace Hermes.Tests.Observability;

/// <summary>
/// <c>hermes.leads.rejected</c> counts each refusal once, under its own reason, and nothing else moves: a body
/// over the limit, the rate limit, a captcha that fails or cannot be checked, and a database that cannot be
/// reached. The host runs with a 4 KiB body limit, two submissions per client address per minute (client addresses
/// through the trusted loopback proxy, one per test) and the captcha on, against a loopback verifier.
/// </summary>
public sealed class RejectionReasonTests : CaptchaApiTest
{
    private const int BodyLimit = 4096;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:MaxBodyBytes"] = BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Intake:RateLimit:PermitLimit"] = "2",
        ["Intake:RateLimit:Window"] = "00:01:00",
        ["Intake:TrustedProxies:0"] = "127.0.0.1",
    }.Concat(CaptchaSettings).ToDictionary();

    private IEnumerable<string> Verified => Verifications.Select(static v => v["response"]);

    [Test]
    public async Task Body_over_the_limit_counts_as_too_large()
    {
        using var counts = new RejectionCounts(Factory.Services);
        var body = ValidBody();
        body["captchaToken"] = "good-token";
        body["message"] = new string('x', BodyLimit);

        using var response = await PostJsonAsync("/api/leads", body, configure: From("203.0.113.61"));

        await ReadProblemAsync(response, 413);
        AssertCounted(counts, RejectionReasons.TooLarge);
        Assert.That(Verified, Is.Empty, "a body too large is refused before the captcha is checked");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Submission_over_the_rate_limit_counts_as_rate_limited()
    {
        using var counts = new RejectionCounts(Factory.Services);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await PostJsonAsync("/api/leads", WithToken("good-token"), configure: From("203.0.113.62"));
            statuses.Add(response.StatusCode);
        }

        Assert.That(statuses, Is.EqualTo(new[] { HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.TooManyRequests }));
        AssertCounted(counts, RejectionReasons.RateLimited, accepted: 2);
        Assert.That(Verified.Count(), Is.EqualTo(2), "the limited submission never reached the verifier");
        Assert.That(await LeadCountAsync(), Is.EqualTo(2));
    }

    [Test]
    public async Task Failed_captcha_counts_as_captcha_not_as_validation()
    {
        using var counts = new RejectionCounts(Factory.Services);

        using var response = await PostJsonAsync("/api/leads", WithToken("forged-token"), configure: From("203.0.113.63"));

        await ReadProblemAsync(response, 400);
        AssertCounted(counts, RejectionReasons.Captcha);
        Assert.That(Verified, Is.EqualTo(new[] { "forged-token" }));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Captcha_that_cannot_be_checked_counts_as_captcha()
    {
        using var counts = new RejectionCounts(Factory.Services);

        using var response = await PostJsonAsync("/api/leads", WithToken("broken-verifier"), configure: From("203.0.113.64"));

        await ReadProblemAsync(response, 503);
        AssertCounted(counts, RejectionReasons.Captcha);
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Unreachable_database_counts_as_database_unavailable()
    {
        // An API whose database is a loopback port nobody listens on: the connection is refused at once.
        var port = LocalProcesses.FreeLoopbackPort();
        await using var api = new HermesApiFactory($"Host=127.0.0.1;Port={port};Username=hermes;Database=hermes;Timeout=2", new Dictionary<string, string?>
        {
            ["Intake:Captcha:Enabled"] = "false",
        });
        using var client = api.CreateApiClient();
        using var counts = new RejectionCounts(api.Services);

        using var response = await client.PostAsync("/api/leads", JsonContent(ValidBody()));

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(response.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
        });
        AssertCounted(counts, RejectionReasons.DatabaseUnavailable);
    }

    private static void AssertCounted(RejectionCounts counts, string reason, long accepted = 0)
    {
        Assert.Multiple(() =>
        {
            Assert.That(counts.Rejected, Is.EqualTo(new Dictionary<string, long> { [reason] = 1 }), counts.ToString());
            Assert.That(counts.Accepted, Is.EqualTo(accepted), counts.ToString());
        });
    }

    private static JsonObject WithToken(string token)
    {
        var body = ValidBody();
        body["captchaToken"] = token;
        return body;
    }

    private static Action<HttpRequestMessage> From(string client) => request => request.Headers.Add("X-Forwarded-For", client);

    private static StringContent JsonContent(JsonNode body) => new(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
}
