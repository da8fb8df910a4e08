using System.Net;
using System.Text;
using Hermes.Domain;
using Hermes.Outbox.Worker;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Operations;
using Hermes.Persistence.Outbox;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Worker;

/// <summary>
/// Answers, races and database refusals that once stalled the outbox for ever: each row still ends delivered or
/// failed, is POSTed no more often than its attempts allow, and the worker says when it cannot go on.
/// </summary>
public sealed class PoisonTests : WorkerTest
{
    [Test]
    public async Task Emoji_at_every_cut_point_of_an_answer_is_stored_and_the_outbox_keeps_moving()
    {
        var leads = await InsertLeadsAsync(6);
        var answers = new Func<HttpContext, Task>[]
        {
            // Excerpt limit (1024) falls inside the emoji, in a 2xx and in an error answer; the error text's 300 too.
            WebhookReceiver.Json(200, new string('a', 1023) + "😀😀", "text/plain"),
            WebhookReceiver.Json(500, new string('a', 1023) + "😀😀", "text/plain"),
            WebhookReceiver.Json(502, new string('b', 299) + "😀 the lead's description echoed", "text/plain"),
            WebhookReceiver.Json(200, $$"""{"brevoContactId": 12, "echo": "{{new string('c', 1005)}}😀😀"}"""),
            WebhookReceiver.Bytes(200, [.. Encoding.UTF8.GetBytes(new string('d', 1022)), 0xF0, 0x9F, 0x98]),
            WebhookReceiver.Json(200, """{"brevoContactId": 13}"""),
        };
        var byId = leads.Select((l, i) => (Id: WebhookIds.MessageIdFor(l.Lead.LeadId), Answer: answers[i])).ToDictionary(static p => p.Id, static p => p.Answer);
        Receiver.Behaviour = (request, context) => request.Attempt == 1 ? byId[request.WebhookId](context) : WebhookReceiver.Json(200, """{"brevoContactId": 99}""")(context);
        await using var worker = await StartWorkerAsync();

        await WaitForAllDeliveredAsync(6);

        Assert.That(Receiver.Requests.GroupBy(static r => r.WebhookId).Select(static g => g.Count()), Is.EquivalentTo(new[] { 1, 2, 2, 1, 1, 1 }),
            "each row was POSTed once, or twice after an error answer, never again at a lease end");
        await AssertAllTextReadsBackAsync();
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", leads[3].Lead.BackupId), Is.EqualTo("12"));
        Assert.That(worker.State.FatalError, Is.Null);
    }

    [Test]
    public async Task Answers_that_jsonb_refuses_are_deliveries_kept_as_raw_text_and_do_not_fail_their_neighbours()
    {
        string[] bodies =
        [
            """{"brevoContactId": 5, "x": 1e200000}""",
            """{"brevoContactId": 6, "x": "\ud800"}""",
            """{"brevoContactId": 7, "x": "a\u0000b"}""",
            """{"brevoContactId": "\ud800"}""",
            """{"brevoContactId": "no such id; DROP TABLE"}""",
            """{"brevoContactId": 8, "big": 1e400}""",
            new string('[', 500) + new string(']', 500),
            """{"brevoContactId": 9}""",
        ];
        var leads = await InsertLeadsAsync(bodies.Length);
        var byId = leads.Select((l, i) => (Id: WebhookIds.MessageIdFor(l.Lead.LeadId), Body: bodies[i])).ToDictionary(static p => p.Id, static p => p.Body);
        Receiver.Behaviour = (request, context) => WebhookReceiver.Json(200, byId[request.WebhookId])(context);
        await using var worker = await StartWorkerAsync();

        await WaitForAllDeliveredAsync(bodies.Length);

        Assert.That(Receiver.Count, Is.EqualTo(bodies.Length), "every row POSTed exactly once");
        var ids = new List<string?>();
        foreach (var (lead, _) in leads)
        {
            ids.Add(await ScalarAsync<string?>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", lead.BackupId));
        }

        Assert.That(ids, Is.EqualTo(new[] { "5", "6", "7", null, null, "8", null, "9" }));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE n8n_response_data ? 'raw'"), Is.EqualTo(5), "the four refused answers and the deep one as raw text");
        Assert.That(worker.Log.Count(static e => e.EventId == 4006), Is.EqualTo(2), "two contact ids dropped, with a warning each");
        await AssertAllTextReadsBackAsync();
    }

    [Test]
    public async Task Logs_carry_the_status_and_length_of_an_error_answer_never_its_text()
    {
        var (_, message) = await InsertLeadAsync();
        const string echo = "Ada Lovelace wrote: our SIEM is down";
        var first = $$"""{"error": "{{echo}}"}""";
        Receiver.AnswerInTurn(WebhookReceiver.Json(500, first), WebhookReceiver.Json(422, echo, "text/plain"));
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "2" });

        await WaitForOutboxStatusAsync(message.Id, "failed");

        Assert.That(worker.Log.Where(static e => e.Message.Contains("Ada", StringComparison.Ordinal)), Is.Empty);
        Assert.That(worker.Log.Single(static e => e.EventId == 4002).Message, Does.Contain("HTTP 500").And.Contain($"answer of {first.Length} bytes"));
        Assert.That(worker.Log.Single(static e => e.EventId == 4003).Message, Does.Contain("HTTP 422").And.Contain($"answer of {echo.Length} bytes"));
        // The attempt log keeps the excerpt, where erasure can reach it.
        Assert.That(await ScalarAsync<string>("SELECT error FROM hermes_delivery_attempts WHERE attempt_number = 2"), Does.Contain(echo));
        Assert.That(await ScalarAsync<string>("SELECT response_excerpt FROM hermes_delivery_attempts WHERE attempt_number = 1"), Does.Contain(echo));
    }

    [Test]
    public async Task A_stale_outcome_from_before_a_replay_cannot_complete_the_new_claim_of_the_same_worker()
    {
        var (lead, message) = await InsertLeadAsync();
        var store = new OutboxStore(DataSource);
        var first = (await store.ClaimAsync(1, TimeSpan.FromMinutes(5), "w", CancellationToken.None)).Single();
        // The same worker's first claim ends as failed (another attempt), the operator replays, the worker claims again.
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'failed' WHERE id = $1", message.Id);
        await new OutboxReplay(DataSource).ReplayAsync(new ReplayRequest { LeadIds = [lead.LeadId] }, CancellationToken.None);
        var second = (await store.ClaimAsync(1, TimeSpan.FromMinutes(5), "w", CancellationToken.None)).Single();
        Assert.That((second.Attempt, second.ReplayCount), Is.EqualTo((first.Attempt, 1)), "the same attempt number, a new generation");
        var now = DateTimeOffset.UtcNow;

        var changed = await store.CompleteAsync(
            [new AttemptOutcome { OutboxId = message.Id, BackupId = lead.BackupId, Attempt = first.Attempt, ReplayCount = first.ReplayCount, Outcome = DeliveryOutcomes.Retry, StartedAt = now, FinishedAt = now, StatusCode = 500, RetryDelay = TimeSpan.FromHours(1) }],
            [new ReleasedClaim(message.Id, first.Attempt, first.ReplayCount)],
            "w",
            CancellationToken.None);

        Assert.That(changed, Is.Zero);
        Assert.That(await ScalarAsync<bool>("SELECT available_at > now() + interval '4 minutes' AND locked_by = 'w' FROM hermes_outbox WHERE id = $1", message.Id), Is.True,
            "the new claim's lease is untouched by the stale retry and the stale release");
        Assert.That(await store.CompleteAsync(
            [new AttemptOutcome { OutboxId = message.Id, BackupId = lead.BackupId, Attempt = second.Attempt, ReplayCount = second.ReplayCount, Outcome = DeliveryOutcomes.Retry, StartedAt = now, FinishedAt = now, StatusCode = 500, RetryDelay = TimeSpan.FromHours(1) }],
            [], "w", CancellationToken.None), Is.EqualTo(1), "the claim's own outcome lands");
    }

    [Test]
    public async Task An_erase_held_open_while_an_outcome_is_written_wins_and_the_late_delivery_keeps_its_contact_id()
    {
        var (lead, message) = await InsertLeadAsync();
        var (failing, failingMessage) = await InsertLeadAsync();
        // Holds every erasure open for a moment inside its last statement, with all its locks, as a slow erase would.
        await ExecuteAsync("""
            CREATE FUNCTION test_slow_erase() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$;
            CREATE TRIGGER test_slow_erase BEFORE UPDATE ON hermes_leads FOR EACH ROW WHEN (NEW.status = 'erased') EXECUTE FUNCTION test_slow_erase();
            """);
        try
        {
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var deliveredId = WebhookIds.MessageIdFor(lead.LeadId);
            Receiver.Behaviour = async (request, context) =>
            {
                await release.Task;
                await (request.WebhookId == deliveredId
                    ? WebhookReceiver.Json(200, """{"brevoContactId": 4242, "echo": "Ada"}""")
                    : WebhookReceiver.Json(500, """{"echo": "Ada"}"""))(context);
            };
            await using var worker = await StartWorkerAsync();
            await Receiver.WaitForAsync(2);

            var erasures = new LeadErasure(DataSource);
            var erase = Task.WhenAll(
                erasures.EraseAsync(new ErasureRequest(null, lead.LeadId), CancellationToken.None),
                erasures.EraseAsync(new ErasureRequest(null, failing.LeadId), CancellationToken.None));
            await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") >= 1, "the erase is held open");
            release.SetResult();
            var results = await erase;

            Assert.That(results.Select(static r => r.Leads.Single().InFlightDeliveries), Is.EqualTo(new[] { 1, 1 }), "erase reports the deliveries it found in flight");
            // The two deliveries' own attempts: the erasure the late delivery queues (a lead.erased row) is delivered
            // too, and its attempts keep their error (they name no person).
            const string Deliveries = "FROM hermes_delivery_attempts WHERE outbox_id IN ($1, $2)";
            await WaitUntilAsync(async () => await ScalarAsync<long>($"SELECT count(*) {Deliveries}", message.Id, failingMessage.Id) == 2, "both attempts are logged",
                seen: async () => await ScalarAsync<string>("""
                    SELECT 'attempts: ' || coalesce((SELECT string_agg(outbox_id || '#' || attempt_number || ' ' || outcome, ', ' ORDER BY id) FROM hermes_delivery_attempts), '-')
                        || '; outbox: ' || coalesce((SELECT string_agg(id || ' ' || type || ' ' || status || ' ' || attempts || ' ' || coalesce(locked_by, '-'), ', ' ORDER BY id) FROM hermes_outbox), '-')
                        || '; leads: ' || coalesce((SELECT string_agg(id || ' ' || status || ' ' || coalesce(crm_erasure_state, '-'), ', ' ORDER BY id) FROM hermes_leads), '-')
                    """) + "; worker: " + string.Join(" | ", worker.Log.Where(static e => e.Level >= LogLevel.Warning).Select(static e => $"[{e.EventId}] {e.Message} {e.Exception?.Message}")));
            Assert.That(await ScalarAsync<long>($"SELECT count(*) {Deliveries} AND (error IS NOT NULL OR response_excerpt IS NOT NULL)", message.Id, failingMessage.Id), Is.Zero,
                "attempts of erased leads are blanked, whichever came first");
            Assert.That(await ScalarAsync<string>("SELECT status || ' ' || brevo_contact_id || ' ' || coalesce(n8n_response_data::text, '-') FROM hermes_leads WHERE id = $1", lead.BackupId),
                Is.EqualTo("erased 4242 -"), "the late delivery keeps its contact id (to delete in Brevo) but nothing of the answer");
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo("delivered"));
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", failingMessage.Id), Is.EqualTo("cancelled"), "a late failure revives nothing");
            Assert.That(await ScalarAsync<string?>("SELECT n8n_error_message FROM hermes_leads WHERE id = $1", failing.BackupId), Is.Null);
        }
        finally
        {
            await ExecuteAsync("DROP TRIGGER test_slow_erase ON hermes_leads; DROP FUNCTION test_slow_erase()");
        }
    }

    [Test]
    public async Task An_outcome_postgresql_refuses_is_isolated_and_written_without_the_answer_while_the_rest_of_its_batch_lands()
    {
        var leads = await InsertLeadsAsync(5);
        // A refusal no sanitising can foresee: this database rejects one particular excerpt (SQLSTATE 22023).
        await ExecuteAsync("""
            CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.response_excerpt LIKE '%poison%' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER test_refuse BEFORE INSERT ON hermes_delivery_attempts FOR EACH ROW EXECUTE FUNCTION test_refuse();
            """);
        try
        {
            var poisoned = new HashSet<string> { WebhookIds.MessageIdFor(leads[1].Lead.LeadId), WebhookIds.MessageIdFor(leads[3].Lead.LeadId) };
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Receiver.Behaviour = async (request, context) =>
            {
                // Held until all five are in flight, so their outcomes share one write batch.
                if (Receiver.Count >= 5)
                {
                    gate.TrySetResult();
                }

                await gate.Task;
                await (poisoned.Contains(request.WebhookId)
                    ? WebhookReceiver.Json(request.Attempt == 1 ? 503 : 200, """{"brevoContactId": 1, "x": "poison"}""")
                    : WebhookReceiver.Json(200, """{"brevoContactId": 2}"""))(context);
            };
            await using var worker = await StartWorkerAsync();

            await WaitForAllDeliveredAsync(5);

            Assert.That(worker.Log.Count(static e => e.EventId == 4033), Is.GreaterThanOrEqualTo(1), "the batch was isolated");
            Assert.That(worker.Log.Count(static e => e.EventId == 4034), Is.EqualTo(4), "two refused retries and two refused deliveries, each written without the answer");
            Assert.That(Receiver.Requests.GroupBy(static r => r.WebhookId).Select(static g => g.Count()), Is.EquivalentTo(new[] { 1, 2, 1, 2, 1 }),
                "a refused retry is still a retry; a refused delivery is still a delivery, never sent again");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE brevo_contact_id = '2'"), Is.EqualTo(3));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE last_error LIKE 'The outcome could not be stored as received (SQLSTATE 22023%'"), Is.EqualTo(2));
            Assert.That(worker.State.FatalError, Is.Null);
        }
        finally
        {
            await ExecuteAsync("DROP TRIGGER test_refuse ON hermes_delivery_attempts; DROP FUNCTION test_refuse()");
        }
    }

    [TestCase("40001", TestName = "A_worker_whose_outcomes_keep_failing_transiently_reports_unhealthy_and_stops_with_exit_code_70_before_the_lease_ends")]
    [TestCase("42501", TestName = "A_worker_that_cannot_write_outcomes_at_all_reports_unhealthy_and_stops_with_exit_code_70")]
    public async Task A_worker_that_cannot_write_stops_itself(string sqlState)
    {
        const int rows = 60;
        await InsertLeadsAsync(rows);
        await ExecuteAsync($"""
            CREATE FUNCTION test_refuse_all() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '{sqlState}'; END $$;
            CREATE TRIGGER test_refuse_all BEFORE INSERT ON hermes_delivery_attempts FOR EACH ROW EXECUTE FUNCTION test_refuse_all();
            """);
        try
        {
            await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:Lease"] = "00:00:06", ["Outbox:RequestTimeout"] = "00:00:01", ["Outbox:BatchSize"] = "4", ["Outbox:Concurrency"] = "4" });
            var claimedAt = DateTimeOffset.UtcNow;

            await WaitUntilAsync(() => Task.FromResult(worker.Stopping.IsCancellationRequested), "the worker stops itself", TimeSpan.FromSeconds(20));
            var stoppedAt = DateTimeOffset.UtcNow;

            Assert.That(stoppedAt - claimedAt, Is.LessThan(TimeSpan.FromSeconds(6)), "it stops before the lease of the unwritten outcome ends");
            Assert.That(worker.State.FatalError, Does.Contain("written"));
            var health = await ActivatorUtilities.CreateInstance<Hermes.Outbox.Worker.Health.OutcomeWriterHealthCheck>(worker.Services)
                .CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
            Assert.That(health.Status, Is.EqualTo(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy));
            Assert.That(WorkerHost.ExitCodeOf(worker.Services), Is.EqualTo(WorkerHost.FatalExitCode));
            Assert.That(worker.Log.Count(static e => e.EventId == 4035), Is.EqualTo(1));
            Assert.That(worker.Log.Any(static e => e.EventId == 4031), Is.EqualTo(sqlState == "40001"),
                "a transient error is retried until the deadline; any other gives up at once. Retried: "
                + string.Join(" | ", worker.Log.Where(static e => e.EventId == 4031).Select(static e => $"{e.Message}: {e.Exception?.Message}")));
            // Outcomes queue up to the completer's capacity (2 × 4 + 4) beside the batch being retried; then finished
            // deliveries wait with their slots (4) and nothing more is claimed.
            var capacity = worker.Services.GetRequiredService<OutcomeCompleter>().Capacity;
            Assert.That(capacity, Is.EqualTo(12));
            Assert.That(Receiver.Count, Is.LessThanOrEqualTo((2 * capacity) + 4).And.LessThan(rows), "claiming stopped while outcomes could not be written");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE attempts > 1"), Is.Zero, "each row was POSTed at most once; they come back to another worker at their lease end");
        }
        finally
        {
            await ExecuteAsync("DROP TRIGGER test_refuse_all ON hermes_delivery_attempts; DROP FUNCTION test_refuse_all()");
        }
    }
}
