using System.Net;
using System.Text.Json.Nodes;

namespace Hermes.Tests.Api;

/// <summary>The captcha switched on, against a fake verify endpoint on loopback that answers by token.</summary>
public sealed class CaptchaTests : CaptchaApiTest
{
    private const string Secret = "test-captcha-secret";

    protected override string CaptchaSecret => Secret;

    [Test]
    public async Task Good_token_is_verified_with_secret_and_client_address_then_stored()
    {
        var body = ValidBody();
        body["captchaToken"] = "good-token";

        using var response = await PostJsonAsync("/api/leads", body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.That(Verifications, Has.Count.EqualTo(1));
        var seen = Verifications.Single();
        Assert.Multiple(async () =>
        {
            Assert.That(seen["secret"], Is.EqualTo(Secret));
            Assert.That(seen["response"], Is.EqualTo("good-token"));
            Assert.That(seen["remoteip"], Is.EqualTo("127.0.0.1"));
            Assert.That(await LeadCountAsync(), Is.EqualTo(1));
            Assert.That(await ScalarAsync<string>("SELECT captcha_token FROM hermes_leads"), Is.EqualTo("good-token"));
        });
    }

    [Test]
    public async Task Rejected_token_is_400_on_the_captcha_field_and_stores_nothing()
    {
        var body = ValidBody();
        body["captchaToken"] = "forged-token";

        using var response = await PostJsonAsync("/api/leads", body);

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]?["captchaToken"]?[0]?.ToString(), Does.Contain("captcha"));
        Assert.That(Verifications.Single()["response"], Is.EqualTo("forged-token"));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Missing_token_is_400_without_asking_the_verifier()
    {
        var body = ValidBody();
        body.Remove("captchaToken");

        using var response = await PostJsonAsync("/api/leads", body);

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]?["captchaToken"]?[0]?.ToString(), Does.Contain("required"));
        Assert.That(Verifications, Is.Empty);
        await AssertNothingStoredAsync();
    }

    [TestCase("broken-verifier", TestName = "Verifier_answering_500_is_503_and_stores_nothing")]
    [TestCase("slow-verifier", TestName = "Verifier_answering_too_late_is_503_and_stores_nothing")]
    [TestCase("garbage-answer", TestName = "Verifier_answering_garbage_is_503_and_stores_nothing")]
    public async Task Unavailable_verifier_is_503_and_stores_nothing(string token)
    {
        var body = ValidBody();
        body["captchaToken"] = token;

        using var response = await PostJsonAsync("/api/leads", body);

        await ReadProblemAsync(response, 503);
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(5)));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Idempotent_replay_does_not_spend_the_token_again()
    {
        var body = ValidBody();
        body["captchaToken"] = "good-token";
        var key = Guid.NewGuid().ToString();

        using var first = await PostJsonAsync("/api/leads", body, key);
        using var replay = await PostJsonAsync("/api/leads", body, key);

        Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(replay.Headers.Contains("Idempotent-Replayed"), Is.True);
        Assert.That(Verifications, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Backup_lead_token_in_the_metadata_is_verified()
    {
        var form = ValidBody();
        form.Remove("captchaToken");
        var request = new JsonObject { ["formData"] = form, ["metadata"] = new JsonObject { ["captchaToken"] = "good-token" } };

        using var response = await PostJsonAsync("/api/backup-lead", request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.That(Verifications.Single()["response"], Is.EqualTo("good-token"));
    }
}
