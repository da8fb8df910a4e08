using System.Text;
using Hermes.Domain;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Outbox;

namespace Hermes.Tests.Worker;

/// <summary>Which failed attempts are outages (replayed automatically once) and which are about the message (never).</summary>
public sealed class OutageAnswersTests
{
    private static readonly RetrySchedule Schedule = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10), maxAttempts: 3, maxRetryAfter: TimeSpan.FromHours(1));
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [TestCase(WebhookResultKind.ConnectionFailed, null, FailureClasses.Outage)]
    [TestCase(WebhookResultKind.TimedOut, null, FailureClasses.Outage)]
    [TestCase(WebhookResultKind.Answered, 502, FailureClasses.Outage)]
    [TestCase(WebhookResultKind.Answered, 503, FailureClasses.Outage)]
    [TestCase(WebhookResultKind.Answered, 504, FailureClasses.Outage)]
    [TestCase(WebhookResultKind.Answered, 500, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 501, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 505, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 400, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 401, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 404, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 410, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 422, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 429, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 308, FailureClasses.Content)]
    [TestCase(WebhookResultKind.Answered, 200, FailureClasses.Content)]
    [TestCase(WebhookResultKind.CircuitOpen, null, FailureClasses.Content)]
    public void Only_no_answer_a_timeout_and_a_gateways_502_503_504_are_outages(WebhookResultKind kind, int? status, string expected) =>
        Assert.That(OutageAnswers.Classify(kind, status), Is.EqualTo(expected));

    [TestCase(503, FailureClasses.Outage)]
    [TestCase(422, FailureClasses.Content)]
    public void A_failed_answer_carries_its_class_into_the_outcome(int status, string expected)
    {
        var result = new WebhookResult(WebhookResultKind.Answered, Start, Start.AddMilliseconds(10), status, Error: $"HTTP {status}");

        var retry = DeliveryDecision.Decide(Claim(1), result, Schedule, new Random(1)).Outcome!;
        var last = DeliveryDecision.Decide(Claim(3), result, Schedule, new Random(1)).Outcome!;

        Assert.That((retry.Outcome, retry.FailureClass), Is.EqualTo((DeliveryOutcomes.Retry, expected)));
        Assert.That((last.Outcome, last.FailureClass), Is.EqualTo((DeliveryOutcomes.Failed, expected)));
    }

    [Test]
    public void A_refused_connection_is_an_outage_and_a_delivery_has_no_class()
    {
        var refused = DeliveryDecision.Decide(Claim(3), new WebhookResult(WebhookResultKind.ConnectionFailed, Start, Start, Error: "No answer: Connection refused"), Schedule, new Random(1)).Outcome!;
        var delivered = DeliveryDecision.Decide(Claim(1), new WebhookResult(WebhookResultKind.Answered, Start, Start, 200, Body: Encoding.UTF8.GetBytes("""{"id": 1}""")), Schedule, new Random(1)).Outcome!;

        Assert.That((refused.Outcome, refused.FailureClass), Is.EqualTo((DeliveryOutcomes.Failed, FailureClasses.Outage)));
        Assert.That(delivered.FailureClass, Is.Null);
    }

    [Test]
    public void An_erasure_answered_2xx_without_erased_true_is_a_content_failure()
    {
        var erasure = new ClaimedMessage(7, 8, "lead_x", "msg_lead_x", "{}", 3, 0, null, Type: OutboxMessage.LeadErasedType);

        var outcome = DeliveryDecision.Decide(erasure, new WebhookResult(WebhookResultKind.Answered, Start, Start, 200, Body: Encoding.UTF8.GetBytes("{}")), Schedule, new Random(1)).Outcome!;

        Assert.That((outcome.Outcome, outcome.FailureClass), Is.EqualTo((DeliveryOutcomes.Failed, FailureClasses.Content)));
    }

    [Test]
    public void A_worker_error_is_a_content_failure_even_though_nothing_was_answered()
    {
        var outcome = DeliveryDecision.Crashed(Claim(3), Start, new InvalidOperationException("defect"), Schedule, new Random(1)).Outcome!;

        Assert.That((outcome.Outcome, outcome.FailureClass), Is.EqualTo((DeliveryOutcomes.Failed, FailureClasses.Content)));
    }

    private static ClaimedMessage Claim(int attempt) => new(7, 8, "lead_x", "msg_lead_x", "{}", attempt, 0, null);
}
