using System.Text.Json.Nodes;
using Hermes.Persistence.Submissions;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Api;

/// <summary>
/// What an error before the commit does to a group commit (<see cref="SubmissionStore"/>): an error one row can cause
/// fails only that row's request, its neighbours written again each alone and stored; any other error fails every
/// request of the transaction, and nothing is written again. One writer, held still (<see cref="HeldWriters"/>), so
/// the nine submissions queued behind it share one transaction; a test trigger refuses the fifth with a chosen SQLSTATE
/// and counts, in a sequence (which no rollback undoes), how often it was asked to write it. The trigger is on the leads
/// (the transaction's first round trip) or on the outbox rows (its second, which carries the COMMIT as well).
/// </summary>
public sealed class GroupCommitErrorTests : ApiTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:GroupCommit:Writers"] = "1",
        ["Intake:GroupCommit:MaxBatch"] = "32",
    };

    [TearDown]
    public Task DropPoisonTriggerAsync() => ExecuteAsync("""
        DROP TRIGGER IF EXISTS test_poison_lead ON hermes_leads;
        DROP TRIGGER IF EXISTS test_poison_lead ON hermes_outbox;
        DROP FUNCTION IF EXISTS test_poison_lead();
        DROP SEQUENCE IF EXISTS test_poison_attempts;
        """);

    /// <summary>Errors one row can cause: data exceptions (22), integrity violations (23), a trigger's own refusal (P0001).</summary>
    [TestCase("22001", 500, "hermes_leads")]
    [TestCase("23514", 500, "hermes_leads")]
    [TestCase("P0001", 500, "hermes_leads")]
    [TestCase("23514", 500, "hermes_outbox")]
    [TestCase("P0001", 500, "hermes_outbox")]
    public async Task A_row_postgresql_refuses_fails_its_own_request_and_its_neighbours_are_stored(string sqlState, int status, string table)
    {
        var responses = await SubmitBatchWithPoisonAsync(sqlState, table);

        Assert.Multiple(async () =>
        {
            Assert.That(responses.Select(r => (int)r.StatusCode), Is.EqualTo(new[] { 201, 201, 201, 201, status, 201, 201, 201, 201 }));
            Assert.That(await ScalarAsync<long>("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_poison_attempts"), Is.EqualTo(2),
                "the poisoned row was written twice: in the batch, then alone");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(1 + 8));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(1 + 8));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE company_name LIKE 'Poison%'"), Is.Zero);
        });
        await ReadProblemAsync(responses[4], status);
        DisposeAll(responses);
    }

    /// <summary>
    /// Errors of the connection, the server or the transaction as a whole (shutdown, starting up, too many
    /// connections, deadlock, a connection failure): each request of the batch gets the error, and nothing is written
    /// again one by one — against a server in trouble that would multiply the attempts by the batch size.
    /// </summary>
    [TestCase("57P01", "hermes_leads")]
    [TestCase("57P03", "hermes_leads")]
    [TestCase("53300", "hermes_leads")]
    [TestCase("40P01", "hermes_leads")]
    [TestCase("08006", "hermes_leads")]
    [TestCase("40P01", "hermes_outbox")]
    [TestCase("57P01", "hermes_outbox")]
    public async Task An_error_no_single_row_causes_fails_the_whole_batch_without_writing_it_again_lead_by_lead(string sqlState, string table)
    {
        var responses = await SubmitBatchWithPoisonAsync(sqlState, table);

        Assert.Multiple(async () =>
        {
            Assert.That(responses.Select(r => (int)r.StatusCode), Is.All.EqualTo(503), "every request of the batch: the database is unavailable");
            Assert.That(await ScalarAsync<long>("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_poison_attempts"), Is.EqualTo(1), "the batch was written once, not again lead by lead");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(1), "only the held writer's own lead");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(1));
        });
        var problem = await ReadProblemAsync(responses[0], 503);
        Assert.That((string?)problem["detail"], Does.Contain("nothing was stored"));
        DisposeAll(responses);
    }

    /// <summary>
    /// Queues nine submissions behind the held writers, the fifth with a company name the test trigger on
    /// <paramref name="table"/> refuses with SQLSTATE <paramref name="sqlState"/> (on the outbox, read from the row's
    /// frozen payload); <c>test_poison_attempts</c> counts the statements that tried to write it.
    /// </summary>
    private async Task<List<HttpResponseMessage>> SubmitBatchWithPoisonAsync(string sqlState, string table)
    {
        var company = table == "hermes_outbox" ? "NEW.payload->'lead'->>'companyName'" : "NEW.company_name";
        await ExecuteAsync($$"""
            CREATE SEQUENCE test_poison_attempts;
            CREATE FUNCTION test_poison_lead() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                IF {{company}} LIKE 'Poison %' THEN
                    PERFORM nextval('test_poison_attempts');
                    RAISE EXCEPTION 'simulated refusal of one row' USING ERRCODE = substr({{company}}, 8);
                END IF;
                RETURN NEW;
            END
            $fn$;
            CREATE TRIGGER test_poison_lead BEFORE INSERT ON {{table}} FOR EACH ROW EXECUTE FUNCTION test_poison_lead();
            """);
        var poison = ValidBody();
        poison["companyName"] = "Poison " + sqlState;

        List<HttpResponseMessage> responses;
        var held = await HoldWritersAsync();
        await using (held)
        {
            responses = await held.QueueAsync([.. Enumerable.Range(0, 9).Select(i => Submission(i == 4 ? poison : ValidBody()))]);
        }

        DisposeAll(held.First);
        return responses;
    }

    private Func<Task<HttpResponseMessage>> Submission(JsonNode body) => () => PostJsonAsync("/api/leads", body.DeepClone());

    private Task<HeldWriters> HoldWritersAsync() =>
        HeldWriters.HoldAsync(Factory.Services.GetRequiredService<SubmissionStore>(), DataSource, 1, () => PostJsonAsync("/api/leads", ValidBody()));

    private static void DisposeAll(IEnumerable<HttpResponseMessage> responses)
    {
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
