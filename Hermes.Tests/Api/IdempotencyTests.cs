using System.Net;
using System.Text.Json.Nodes;

namespace Hermes.Tests.Api;

public sealed class IdempotencyTests : ApiTest
{
    [Test]
    public async Task Same_key_and_body_get_the_first_answer_again_marked_as_replay()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await PostJsonAsync("/api/leads", ValidBody(), key);
        using var second = await PostJsonAsync("/api/leads", ValidBody(), key);

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.Multiple(async () =>
        {
            Assert.That(await second.Content.ReadAsStringAsync(), Is.EqualTo(await first.Content.ReadAsStringAsync()));
            Assert.That(second.Headers.Location, Is.EqualTo(first.Headers.Location));
            Assert.That(first.Headers.Contains("Idempotent-Replayed"), Is.False);
            Assert.That(second.Headers.GetValues("Idempotent-Replayed"), Is.EqualTo(new[] { "true" }));
            Assert.That(await LeadCountAsync(), Is.EqualTo(1));
            Assert.That(await OutboxCountAsync(), Is.EqualTo(1));
            Assert.That(await ScalarAsync<string>("SELECT idempotency_key FROM hermes_leads"), Is.EqualTo(key));
            Assert.That(await ScalarAsync<string>("SELECT request_hash FROM hermes_leads"), Does.Match("^[0-9a-f]{64}$"));
        });
    }

    [Test]
    public async Task Same_key_and_same_fields_in_another_layout_is_a_replay()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await PostJsonAsync("/api/leads", ValidBody(), key);

        var reordered = new JsonObject();
        foreach (var (name, value) in ValidBody().Reverse())
        {
            reordered[name] = value?.DeepClone();
        }

        reordered["someUnknownField"] = "ignored";
        reordered["captchaToken"] = "a-fresh-captcha-token";
        using var second = await PostRawAsync("/api/leads", "\n  " + reordered.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), "application/json", key);

        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Created), await second.Content.ReadAsStringAsync());
        Assert.That(second.Headers.Contains("Idempotent-Replayed"), Is.True);
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Same_key_with_another_body_is_422_and_changes_nothing()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await PostJsonAsync("/api/leads", ValidBody(), key);
        var other = ValidBody();
        other["problemDescription"] = "A different problem.";

        using var second = await PostJsonAsync("/api/leads", other, key);

        var problem = await ReadProblemAsync(second, 422);
        Assert.That((string?)problem["title"], Does.Contain("Idempotency-Key"));
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
        Assert.That(await OutboxCountAsync(), Is.EqualTo(1));
        Assert.That(await ScalarAsync<string>("SELECT problem_description FROM hermes_leads"), Does.StartWith("Our web shop"));
    }

    [Test]
    public async Task Backup_lead_replays_a_lead_first_sent_to_api_leads_in_its_own_shape()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await PostJsonAsync("/api/leads", ValidBody(), key);
        using var second = await PostJsonAsync("/api/backup-lead", new JsonObject { ["formData"] = ValidBody() }, key);

        var a = await ReadJsonAsync(first);
        var b = await ReadJsonAsync(second);
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That((string?)b["leadId"], Is.EqualTo((string?)a["leadId"]));
        Assert.That((long?)b["backupId"], Is.EqualTo((long?)a["backupId"]));
        Assert.That(b.ContainsKey("status"), Is.False);
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Different_keys_with_the_same_body_are_different_leads()
    {
        using var first = await PostJsonAsync("/api/leads", ValidBody(), Guid.NewGuid().ToString());
        using var second = await PostJsonAsync("/api/leads", ValidBody(), Guid.NewGuid().ToString());

        Assert.That(second.Headers.Contains("Idempotent-Replayed"), Is.False);
        Assert.That(await LeadCountAsync(), Is.EqualTo(2));
    }

    [Test]
    public async Task Rejected_submission_does_not_use_up_its_key()
    {
        var key = Guid.NewGuid().ToString();
        var invalid = ValidBody();
        invalid.Remove("email");
        using var rejected = await PostJsonAsync("/api/leads", invalid, key);
        using var accepted = await PostJsonAsync("/api/leads", ValidBody(), key);

        Assert.That((int)rejected.StatusCode, Is.EqualTo(400));
        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(accepted.Headers.Contains("Idempotent-Replayed"), Is.False);
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
    }

    [Test]
    public async Task Concurrent_requests_with_one_key_create_one_lead()
    {
        const int requests = 12;
        var key = Guid.NewGuid().ToString();
        using var start = new SemaphoreSlim(0);
        var sends = Enumerable.Range(0, requests).Select(async _ =>
        {
            await start.WaitAsync();
            using var response = await PostJsonAsync("/api/leads", ValidBody(), key);
            return (response.StatusCode, Replayed: response.Headers.Contains("Idempotent-Replayed"), Body: await ReadJsonAsync(response));
        }).ToList();
        start.Release(requests);
        var answers = await Task.WhenAll(sends);

        Assert.Multiple(async () =>
        {
            Assert.That(answers.Select(static a => a.StatusCode), Is.All.EqualTo(HttpStatusCode.Created));
            Assert.That(answers.Select(static a => (string?)a.Body["leadId"]).Distinct().Count(), Is.EqualTo(1));
            Assert.That(answers.Count(static a => !a.Replayed), Is.EqualTo(1), "exactly one request stored the lead");
            Assert.That(await LeadCountAsync(), Is.EqualTo(1));
            Assert.That(await OutboxCountAsync(), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Concurrent_requests_with_one_key_and_different_bodies_store_exactly_one()
    {
        const int requests = 8;
        var key = Guid.NewGuid().ToString();
        using var start = new SemaphoreSlim(0);
        var sends = Enumerable.Range(0, requests).Select(async i =>
        {
            var body = ValidBody();
            body["problemDescription"] = $"Body number {i}.";
            await start.WaitAsync();
            using var response = await PostJsonAsync("/api/leads", body, key);
            return (int)response.StatusCode;
        }).ToList();
        start.Release(requests);
        var statuses = await Task.WhenAll(sends);

        Assert.That(statuses.Count(static s => s == 201), Is.EqualTo(1), string.Join(",", statuses));
        Assert.That(statuses.Count(static s => s == 422), Is.EqualTo(requests - 1));
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
        Assert.That(await OutboxCountAsync(), Is.EqualTo(1));
    }

    [TestCase("", TestName = "Empty_idempotency_key_is_400")]
    [TestCase("has space", TestName = "Idempotency_key_with_a_space_is_400")]
    [TestCase("tab\tinside", TestName = "Idempotency_key_with_a_tab_is_400")]
    public async Task Invalid_key_is_400_and_stores_nothing(string key)
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: r => r.Headers.TryAddWithoutValidation("Idempotency-Key", key));

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]?["Idempotency-Key"], Is.Not.Null, problem.ToJsonString());
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Idempotency_key_longer_than_255_characters_is_400()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), new string('k', 256));

        await ReadProblemAsync(response, 400);
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Idempotency_key_of_255_characters_is_accepted()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), new string('k', 255));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
    }
}
