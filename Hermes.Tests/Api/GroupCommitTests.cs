using System.Net;
using System.Text.Json.Nodes;
using Hermes.Persistence.Submissions;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Api;

/// <summary>
/// Group commit (<see cref="SubmissionStore"/>): submissions that arrive while a transaction is being written share
/// the next one, each request answered after that commit (what an error does: GroupCommitErrorTests); an
/// Idempotency-Key met twice in one transaction is answered as it is when the two come one after the other. What a
/// transaction carried is read from the rows themselves: rows written by one transaction share its <c>xmin</c>.
/// The tests hold the writers still with a lock on <c>hermes_outbox</c> (their lead INSERTs pass, their outbox
/// INSERTs wait), queue the next submissions behind them, then let go.
/// </summary>
public sealed class GroupCommitTests : ApiTest
{
    private const int Writers = 2;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:GroupCommit:Writers"] = Writers.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Intake:GroupCommit:MaxBatch"] = "32",
    };

    [Test]
    public async Task Submissions_queued_behind_busy_writers_share_one_transaction_and_each_gets_its_own_receipt()
    {
        List<HttpResponseMessage> responses;
        var held = await HoldWritersAsync();
        await using (held)
        {
            responses = await held.QueueAsync([.. Enumerable.Range(0, 30).Select(_ => Submission(ValidBody()))]);
        }

        var answers = await Task.WhenAll(responses.Select(ReadJsonAsync));
        var stored = await ScalarAsync<string[]>("SELECT array_agg(lead_id || '=' || id ORDER BY id) FROM hermes_leads");
        var firstAnswers = await Task.WhenAll(held.First.Select(ReadJsonAsync));
        Assert.Multiple(async () =>
        {
            Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.Created));
            Assert.That(answers.Concat(firstAnswers).Select(a => $"{a["leadId"]}={a["backupId"]}"), Is.EquivalentTo(stored),
                "each answer names its own lead and the id the database gave it");
            Assert.That(await ScalarAsync<long>("SELECT count(DISTINCT xmin::text) FROM hermes_leads"), Is.InRange(Writers + 1, Writers + 2),
                "each held writer's lead in its own transaction, then the 30 queued ones in one transaction (or two, should the second writer take some)");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id AND o.xmin::text = l.xmin::text"),
                Is.EqualTo(32), "every outbox row is committed by its lead's transaction");
        });
        DisposeAll(responses.Concat(held.First));
    }

    [Test]
    public async Task An_idempotency_key_met_twice_in_one_transaction_is_one_lead_and_a_replay_or_a_422()
    {
        var body = ValidBody();
        var other = ValidBody();
        other["companyName"] = "Another Company";

        List<HttpResponseMessage> responses;
        var held = await HoldWritersAsync();
        await using (held)
        {
            responses = await held.QueueAsync(
            [
                Submission(ValidBody()), Submission(body, "same-key-same-body"), Submission(body, "same-key-same-body"),
                Submission(body, "same-key-other-body"), Submission(other, "same-key-other-body"), Submission(ValidBody()),
            ]);
        }

        var same = await Task.WhenAll(responses.Skip(1).Take(2).Select(ReadJsonAsync));
        Assert.Multiple(async () =>
        {
            Assert.That(responses.Select(r => (int)r.StatusCode), Is.EqualTo(new[] { 201, 201, 201, 201, 422, 201 }));
            Assert.That(responses.Skip(1).Take(2).Count(r => r.Headers.Contains("Idempotent-Replayed")), Is.EqualTo(1), "one of the two is the replay");
            Assert.That(same[0]["backupId"]!.GetValue<long>(), Is.EqualTo(same[1]["backupId"]!.GetValue<long>()), "the replay names the stored lead");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE idempotency_key = 'same-key-same-body'"), Is.EqualTo(1));
            Assert.That(await ScalarAsync<string>("SELECT company_name FROM hermes_leads WHERE idempotency_key = 'same-key-other-body'"), Is.Not.EqualTo("Another Company"),
                "the first of the two bodies is the one stored");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(2 + 4));
        });
        DisposeAll(responses.Concat(held.First));
    }

    [Test]
    public async Task A_lone_submission_is_written_at_once_in_its_own_transaction()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id AND o.xmin::text = l.xmin::text"), Is.EqualTo(1));
        Assert.That(Factory.Services.GetRequiredService<SubmissionStore>().Queued, Is.Zero);
    }

    private Func<Task<HttpResponseMessage>> Submission(JsonNode body, string? idempotencyKey = null) =>
        () => PostJsonAsync("/api/leads", body.DeepClone(), idempotencyKey);

    private Task<HeldWriters> HoldWritersAsync() =>
        HeldWriters.HoldAsync(Factory.Services.GetRequiredService<SubmissionStore>(), DataSource, Writers, () => PostJsonAsync("/api/leads", ValidBody()));

    private static void DisposeAll(IEnumerable<HttpResponseMessage> responses)
    {
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
