using System.Text;
using Hermes.Domain;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Outbox;

namespace Hermes.Tests.Worker;

/// <summary>The decision from a POST's result to an outcome, without a database.</summary>
public sealed class DeliveryDecisionTests
{
    private static readonly RetrySchedule Schedule = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10), maxAttempts: 3, maxRetryAfter: TimeSpan.FromHours(1));
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static ClaimedMessage Claim(int attempt = 1, int replays = 0) => new(7, 8, "lead_x", "msg_lead_x", "{}", attempt, replays, null);

    private static WebhookResult Answer(int status, string? body = null, TimeSpan? retryAfter = null, string? error = null) =>
        new(WebhookResultKind.Answered, Start, Start.AddMilliseconds(40), status, null, retryAfter, body is null ? null : Encoding.UTF8.GetBytes(body), Error: error ?? (status is >= 200 and <= 299 ? null : $"HTTP {status}"));

    [Test]
    public void A_2xx_is_a_delivery_with_the_answer_and_the_claim_token()
    {
        var decision = DeliveryDecision.Decide(Claim(2, replays: 1), Answer(200, """{"brevoContactId": 12}"""), Schedule, new Random(1));

        var outcome = decision.Outcome!;
        Assert.That((outcome.Outcome, outcome.BrevoContactId, outcome.ResponseData, outcome.Attempt, outcome.ReplayCount, outcome.DurationMs),
            Is.EqualTo((DeliveryOutcomes.Delivered, "12", """{"brevoContactId": 12}""", 2, 1, 40)));
        Assert.That(decision.Release, Is.Null);
    }

    [Test]
    public void An_error_answer_is_a_retry_whose_stored_error_has_a_whole_character_excerpt()
    {
        var decision = DeliveryDecision.Decide(Claim(), Answer(502, new string('a', 299) + "😀 echo"), Schedule, new Random(1));

        var outcome = decision.Outcome!;
        Assert.That(outcome.Outcome, Is.EqualTo(DeliveryOutcomes.Retry));
        Assert.That(outcome.RetryDelay, Is.InRange(TimeSpan.Zero, TimeSpan.FromSeconds(2)));
        Assert.That(outcome.Error, Is.EqualTo("HTTP 502: " + new string('a', 299)), "the emoji straddling the 300th character is left out whole");
        Assert.That(outcome.ResponseExcerpt, Is.EqualTo(new string('a', 299) + "😀 echo"));
    }

    [Test]
    public void Retry_after_longer_than_the_backoff_is_honoured()
    {
        var outcome = DeliveryDecision.Decide(Claim(), Answer(429, retryAfter: TimeSpan.FromMinutes(5)), Schedule, new Random(1)).Outcome!;

        Assert.That(outcome.RetryDelay, Is.EqualTo(TimeSpan.FromMinutes(5)));
    }

    [TestCase(410, 1)]
    [TestCase(500, 3)]
    public void Gone_or_the_last_attempt_is_final(int status, int attempt)
    {
        var decision = DeliveryDecision.Decide(Claim(attempt), Answer(status), Schedule, new Random(1));

        Assert.That(decision.IsFinalFailure, Is.True);
        Assert.That(decision.Outcome!.RetryDelay, Is.Null);
    }

    [Test]
    public void An_open_circuit_hands_the_claim_back_with_its_generation()
    {
        var decision = DeliveryDecision.Decide(Claim(2, replays: 3), new WebhookResult(WebhookResultKind.CircuitOpen, Start, Start), Schedule, new Random(1));

        Assert.That(decision.Outcome, Is.Null);
        Assert.That(decision.Release, Is.EqualTo(new ReleasedClaim(7, 2, 3)));
    }

    [Test]
    public void A_crash_in_the_worker_is_a_retry_without_an_answer()
    {
        var outcome = DeliveryDecision.Crashed(Claim(), Start, new InvalidOperationException("boom"), Schedule, new Random(1)).Outcome!;

        Assert.That((outcome.Outcome, outcome.Error, outcome.StatusCode), Is.EqualTo((DeliveryOutcomes.Retry, "Worker error: InvalidOperationException: boom", (int?)null)));
    }

    [Test]
    public void The_webhook_id_rule_adds_the_replay_number_only_after_a_replay()
    {
        Assert.That(WebhookIds.WebhookIdFor(WebhookIds.MessageIdFor("lead_a"), 0), Is.EqualTo("msg_lead_a"));
        Assert.That(WebhookIds.WebhookIdFor(WebhookIds.MessageIdFor("lead_a"), 2), Is.EqualTo("msg_lead_a_r2"));
    }
}
