using System.Net;

namespace Hermes.Tests.Api;

/// <summary>
/// The lead and its outbox row are one transaction: a failure after the lead's INSERT (forced here by a trigger on
/// the outbox table) leaves neither row behind.
/// </summary>
public sealed class TransactionTests : ApiTest
{
    [TearDown]
    public Task DropFailingTriggerAsync() => ExecuteAsync("""
        DROP TRIGGER IF EXISTS test_fail_outbox ON hermes_outbox;
        DROP FUNCTION IF EXISTS test_fail_outbox();
        """);

    [Test]
    public async Task Connection_failure_after_the_lead_insert_is_503_and_leaves_nothing_behind()
    {
        await FailOutboxInsertsWithAsync("08006");

        using var response = await PostJsonAsync("/api/leads", ValidBody());

        await ReadProblemAsync(response, 503);
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(5)));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Other_database_error_after_the_lead_insert_is_500_without_internals_and_leaves_nothing_behind()
    {
        await FailOutboxInsertsWithAsync("P0001");

        using var response = await PostJsonAsync("/api/leads", ValidBody());

        var problem = await ReadProblemAsync(response, 500);
        Assert.That(problem.ToJsonString(), Does.Not.Contain("hermes_outbox").And.Not.Contain("simulated"));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Lead_is_stored_again_once_the_failure_is_gone()
    {
        await FailOutboxInsertsWithAsync("08006");
        using var failed = await PostJsonAsync("/api/leads", ValidBody());
        await DropFailingTriggerAsync();

        using var accepted = await PostJsonAsync("/api/leads", ValidBody());

        Assert.That((int)failed.StatusCode, Is.EqualTo(503));
        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await LeadCountAsync(), Is.EqualTo(1));
        Assert.That(await OutboxCountAsync(), Is.EqualTo(1));
    }

    private Task FailOutboxInsertsWithAsync(string sqlState) => ExecuteAsync($"""
        CREATE FUNCTION test_fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            RAISE EXCEPTION 'simulated failure in hermes_outbox' USING ERRCODE = '{sqlState}';
        END
        $fn$;
        CREATE TRIGGER test_fail_outbox BEFORE INSERT ON hermes_outbox FOR EACH ROW EXECUTE FUNCTION test_fail_outbox();
        """);
}
