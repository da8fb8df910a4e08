using System.Text.Json;
using Hermes.Domain;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Domain;

public sealed class IdentifierAndPayloadTests
{
    [Test]
    public void Lead_ids_are_unique_well_formed_and_short_enough_for_the_column()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => LeadIdentifier.New()).ToList();

        Assert.That(ids.Distinct().Count(), Is.EqualTo(ids.Count));
        Assert.That(ids, Has.All.Length.EqualTo(LeadIdentifier.Length).And.StartWith("lead_"));
        Assert.That(LeadIdentifier.Length, Is.LessThanOrEqualTo(50));
        Assert.That(ids.All(LeadIdentifier.IsWellFormed), Is.True);
        Assert.That(LeadIdentifier.IsWellFormed("lead_1"), Is.False);
        Assert.That(LeadIdentifier.IsWellFormed("lead_" + new string('I', 26)), Is.False, "I is not in the Crockford alphabet");
    }

    [Test]
    public void Lead_ids_do_not_reveal_order()
    {
        var ids = Enumerable.Range(0, 200).Select(_ => LeadIdentifier.New()).ToList();

        Assert.That(ids, Is.Not.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        Assert.That(ids.Select(static id => id[5]).Distinct().Count(), Is.GreaterThan(16), "the first character is random, not a timestamp");
    }

    [Test]
    public void The_payload_carries_the_contract_fields_in_camel_case()
    {
        var lead = Lead.FromSubmission(TestData.ValidSubmission(), "lead_abc");
        lead.BackupId = 42;
        lead.CreatedAt = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

        using var json = JsonDocument.Parse(WebhookPayload.For(lead).ToJson());
        var root = json.RootElement;

        Assert.That(root.GetProperty("type").GetString(), Is.EqualTo("lead.submitted"));
        Assert.That(root.GetProperty("version").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("id").GetString(), Is.EqualTo("msg_lead_abc"));
        Assert.That(root.GetProperty("leadId").GetString(), Is.EqualTo("lead_abc"));
        Assert.That(root.GetProperty("backupId").GetInt64(), Is.EqualTo(42));
        Assert.That(root.GetProperty("submittedAt").GetDateTimeOffset(), Is.EqualTo(lead.CreatedAt));
        Assert.That(root.GetProperty("lead").GetProperty("email").GetString(), Is.EqualTo("ada@example.com"));
        Assert.That(root.GetProperty("lead").GetProperty("priority").GetString(), Is.EqualTo("high"));
        Assert.That(root.GetProperty("lead").TryGetProperty("captchaToken", out _), Is.False, "the captcha token is not forwarded");
        Assert.That(root.GetProperty("metadata").GetProperty("ipAddress").GetString(), Is.EqualTo("203.0.113.7"));
        Assert.That(root.GetProperty("metadata").GetProperty("source").GetString(), Is.EqualTo("hermes-website"));
        Assert.That(WebhookPayload.FromJson(root.GetRawText()), Is.EqualTo(WebhookPayload.For(lead)));
    }

    [Test]
    public void An_unsaved_lead_has_no_payload()
    {
        var lead = Lead.FromSubmission(TestData.ValidSubmission(), "lead_abc");

        Assert.Throws<InvalidOperationException>(() => WebhookPayload.For(lead));
    }

    [Test]
    public void Outbox_status_names_round_trip()
    {
        foreach (var status in Enum.GetValues<OutboxStatus>())
        {
            Assert.That(OutboxStatusNames.Parse(status.ToDatabase()), Is.EqualTo(status));
            Assert.That(OutboxStatusNames.TryParse(status.ToDatabase(), out var parsed) && parsed == status, Is.True);
        }

        Assert.That(OutboxStatusNames.TryParse("sent", out _), Is.False);
        Assert.Throws<ArgumentOutOfRangeException>(() => OutboxStatusNames.Parse("sent"));
    }

    [Test]
    public void Lead_status_names_round_trip_and_leave_a_crm_state_alone()
    {
        foreach (var status in Enum.GetValues<LeadStatus>())
        {
            Assert.That(LeadStatusNames.TryParse(status.ToDatabase(), out var parsed) && parsed == status, Is.True);
        }

        Assert.That(LeadStatusNames.TryParse("contacted", out _), Is.False);
        Assert.That(LeadStatusNames.TryParse(null, out _), Is.False);
    }

    [Test]
    public void The_database_strings_of_the_states_are_the_ones_already_stored()
    {
        // Rows written by earlier versions hold these; changing one would need a migration of data.
        Assert.That(Enum.GetValues<OutboxStatus>().Select(static s => s.ToDatabase()), Is.EqualTo(new[] { "pending", "delivered", "failed", "cancelled" }));
        Assert.That(Enum.GetValues<LeadStatus>().Select(static s => s.ToDatabase()), Is.EqualTo(new[] { "new", "queued", "forwarded", "delivery_failed", "erased" }));
        Assert.That(new[] { DeliveryOutcomes.Delivered, DeliveryOutcomes.Retry, DeliveryOutcomes.Failed }, Is.EqualTo(new[] { "delivered", "retry", "failed" }));
    }
}
