using System.Net.Http.Headers;
using System.Text;
using Hermes.Outbox.Worker.Delivery;

namespace Hermes.Tests.Worker;

public sealed class WebhookSignerTests
{
    // The Standard Webhooks specification's published test vector (standard-webhooks/standard-webhooks, the
    // reference libraries' tests): a signature computed elsewhere, not by this code.
    private const string VectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string VectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long VectorTimestamp = 1614265330;
    private const string VectorBody = """{"test": 2432232314}""";
    private const string VectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    [Test]
    public void Signature_matches_the_Standard_Webhooks_test_vector()
    {
        Assert.That(WebhookSigner.TryDecodeSecret(VectorSecret, out var key), Is.True);

        var signature = WebhookSigner.Sign(VectorId, VectorTimestamp, Encoding.UTF8.GetBytes(VectorBody), [key]);

        Assert.That(signature, Is.EqualTo(VectorSignature));
    }

    [Test]
    public void Several_secrets_give_several_space_separated_signatures_in_order()
    {
        WebhookSigner.TryDecodeSecret(VectorSecret, out var key);
        var other = new byte[32];

        var signature = WebhookSigner.Sign(VectorId, VectorTimestamp, Encoding.UTF8.GetBytes(VectorBody), [key, other]);

        var parts = signature.Split(' ');
        Assert.That(parts, Has.Length.EqualTo(2));
        Assert.That(parts[0], Is.EqualTo(VectorSignature));
        Assert.That(parts[1], Is.EqualTo(DeliveryTests.SpecSignature("whsec_" + Convert.ToBase64String(other), VectorId, VectorTimestamp, VectorBody)));
    }

    [TestCase("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", TestName = "Secret_without_the_whsec_prefix_is_refused")]
    [TestCase("whsec_not*base64", TestName = "Secret_that_is_not_base64_is_refused")]
    [TestCase("whsec_c2hvcnQ=", TestName = "Secret_shorter_than_24_bytes_is_refused")]
    [TestCase("whsec_", TestName = "Empty_secret_is_refused")]
    public void Malformed_secret_is_refused(string secret) =>
        Assert.That(WebhookSigner.TryDecodeSecret(secret, out _), Is.False);

    [Test]
    public void Retry_after_is_read_as_delta_seconds_and_as_an_http_date()
    {
        var now = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

        Assert.That(WebhookClient.RetryAfterOf(RetryConditionHeaderValue.Parse("120"), now), Is.EqualTo(TimeSpan.FromSeconds(120)));
        Assert.That(WebhookClient.RetryAfterOf(RetryConditionHeaderValue.Parse("Sun, 22 Nov 2026 10:05:00 GMT"), now), Is.EqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(WebhookClient.RetryAfterOf(RetryConditionHeaderValue.Parse("Sun, 22 Nov 2026 09:00:00 GMT"), now), Is.EqualTo(TimeSpan.Zero), "a date in the past means now");
        Assert.That(WebhookClient.RetryAfterOf(null, now), Is.Null);
    }
}
