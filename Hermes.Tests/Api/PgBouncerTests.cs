using System.Text;
using System.Text.Json;
using Hermes.Persistence.Outbox;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Api;

/// <summary>
/// The API behind a real PgBouncer, configured as a user who only swaps the database host would have it: session
/// mode with the <c>ignore_startup_parameters</c> PgBouncer's documentation shows, and transaction mode with the
/// connection string the README documents for it (<c>pgbouncer=true</c>). Every submission is stored with its outbox
/// row, the API is ready, and the workers are still woken by the API's coalesced NOTIFY, not one per commit from the
/// trigger (a LISTEN connection straight to PostgreSQL counts what arrives). A connection PgBouncer refuses is a 503
/// that says why, never a 500.
/// </summary>
[NonParallelizable]
public sealed class PgBouncerTests : DatabaseTest
{
    private const int Submissions = 20;

    [SetUp]
    public Task EmptyTablesAsync() => EmptyLeadTablesAsync();

    [Test]
    public async Task Behind_a_session_mode_pgbouncer_every_submission_is_stored_and_the_api_is_ready()
    {
        await using var bouncer = await PgBouncer.StartAsync(new PgBouncerSettings { PoolMode = "session" });
        await using var factory = new HermesApiFactory(bouncer.ConnectionStringFor(ConnectionString));

        await AssertBurstStoredWithCoalescedWakeUpAsync(factory, bouncer);
    }

    [Test]
    public async Task Behind_a_transaction_mode_pgbouncer_marked_pgbouncer_true_every_submission_is_stored_and_the_api_is_ready()
    {
        await using var bouncer = await PgBouncer.StartAsync(new PgBouncerSettings { PoolMode = "transaction" });
        await using var factory = new HermesApiFactory("", new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(bouncer.ConnectionStringFor(ConnectionString)) + "?sslmode=disable&pgbouncer=true",
        });

        await AssertBurstStoredWithCoalescedWakeUpAsync(factory, bouncer);
    }

    [Test]
    public async Task A_connection_pgbouncer_refuses_at_start_up_is_a_503_that_names_the_cause_and_the_fix()
    {
        // No ignore_startup_parameters at all, and a connection string that carries start-up options.
        await using var bouncer = await PgBouncer.StartAsync(new PgBouncerSettings { PoolMode = "session", IgnoreStartupParameters = "" });
        await using var factory = new HermesApiFactory(bouncer.ConnectionStringFor(ConnectionString) + ";Options=-c statement_timeout=30s");
        using var client = factory.CreateApiClient();

        using var response = await PostAsync(client);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Multiple(async () =>
        {
            Assert.That((int)response.StatusCode, Is.EqualTo(503), text);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
            Assert.That(response.Headers.RetryAfter?.Delta, Is.Not.Null, "Retry-After");
            Assert.That(text, Does.Not.Contain("   at ").And.Not.Contain("Npgsql").And.Not.Contain("options"), "no internals in the body");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
        });
        var logged = factory.Logs.Entries.Where(static e => e.Contains("08P01", StringComparison.Ordinal)).ToList();
        Assert.That(logged, Is.Not.Empty, "a log line with the SQLSTATE: " + string.Join("\n", factory.Logs.Entries));
        Assert.That(logged[0], Does.Contain("unsupported startup parameter: options").And.Contain("ignore_startup_parameters").And.Contain("Options"),
            "the log names the cause (PgBouncer's own words) and the fix (the connection string's Options, or the pooler's ignore_startup_parameters)");
    }

    private async Task AssertBurstStoredWithCoalescedWakeUpAsync(HermesApiFactory factory, PgBouncer bouncer)
    {
        using var client = factory.CreateApiClient();
        await using var listener = await NotifyListener.StartAsync(ConnectionString);
        var notifier = factory.Services.GetRequiredService<OutboxNotifier>();
        var sentBefore = notifier.Sent;

        var answers = await Task.WhenAll(Enumerable.Range(0, Submissions).Select(async _ =>
        {
            using var response = await PostAsync(client);
            return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
        }));
        using var ready = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        var readyText = await ready.Content.ReadAsStringAsync();

        Assert.Multiple(async () =>
        {
            Assert.That(answers.Select(static a => a[..3]), Is.All.EqualTo("201"), string.Join("\n", answers) + "\n" + bouncer.Log);
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id AND o.status = 'pending'"),
                Is.EqualTo(Submissions), "each lead stored with its outbox row");
            Assert.That((int)ready.StatusCode, Is.EqualTo(200), readyText);
        });

        // Every commit is done; the notifier's last NOTIFY may still be on its way. One from the trigger would have
        // arrived with its commit, before the answers.
        await WaitUntilAsync(
            () => Task.FromResult(listener.Received.Count >= 1 && listener.Received.Count == notifier.Sent - sentBefore),
            "every NOTIFY that arrived came from the API's notifier, none from the trigger",
            TimeSpan.FromSeconds(5));
        await Task.Delay(200); // a NOTIFY that should not come has had time to arrive
        Assert.That(listener.Received, Has.Count.EqualTo(notifier.Sent - sentBefore), "still: every NOTIFY came from the notifier");
        Assert.That(listener.Received, Has.Count.InRange(1, Submissions - 1), "commits that overlapped shared a NOTIFY");
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client)
    {
        var body = JsonSerializer.Serialize(TestData.ValidForm(), JsonSerializerOptions.Web);
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        return await client.PostAsync(new Uri("/api/leads", UriKind.Relative), content);
    }
}
