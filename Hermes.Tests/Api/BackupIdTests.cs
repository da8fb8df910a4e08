using System.Net;
using System.Text.Json.Nodes;
using Hermes.Persistence.Submissions;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Api;

/// <summary>
/// The submission path gives each lead its backup id and time before it writes (<see cref="BackupIdReservoir"/>), so
/// that the leads, their outbox rows and the COMMIT go in one round trip: the ids come from the leads' own sequence,
/// reserved in blocks that grow with the rate and are used only while fresh, and the time is the API's clock. The
/// host runs on a clock the test sets.
/// </summary>
public sealed class BackupIdTests : ApiTest
{
    private readonly TestClock _clock = new();

    protected override TimeProvider? Clock => _clock;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:GroupCommit:Writers"] = "1",
    };

    [Test]
    public async Task A_lead_and_its_frozen_payload_carry_the_api_s_time_to_the_microsecond_and_the_id_its_answer_names()
    {
        _clock.SetUtcNow(new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero).AddTicks(1_234_567));

        var answer = await SubmitAsync();

        var row = await ScalarAsync<string>("""
            SELECT l.id || ' ' || to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || ' ' || (o.payload->>'backupId') || ' ' || (o.payload->>'submittedAt')
            FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id
            """);
        Assert.That(row, Is.EqualTo($"{answer["backupId"]} 2031-05-06T07:08:09.123456 {answer["backupId"]} 2031-05-06T07:08:09.123456+00:00"),
            "the row's created_at is the API's time cut to whole microseconds, and the frozen payload says the same time and id");
    }

    [Test]
    public async Task Ids_are_reserved_in_blocks_that_double_while_used_up_fresh_and_a_stale_block_is_left_behind()
    {
        var clock = new FakeTimeProvider();
        var reservoir = new BackupIdReservoir(clock);
        await using var connection = await DataSource.OpenConnectionAsync();
        // The sequence is not set back between tests (the class's API host holds ids it reserved): ids count from here.
        var b = await ScalarAsync<long>("SELECT nextval('hermes_leads_id_seq')");

        var taken = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            var ids = new long[1];
            await reservoir.TakeAsync(ids, connection, null, CancellationToken.None);
            taken.Add(ids[0]);
        }

        Assert.That(taken, Is.EqualTo(new[] { b + 1, b + 2, b + 3, b + 4, b + 5 }), "in the order taken");
        Assert.That(await SequenceAsync(), Is.EqualTo(b + 7), "blocks of 1, 2 and 4: b+6 and b+7 reserved ahead");

        clock.Advance(BackupIdReservoir.FreshFor + TimeSpan.FromMilliseconds(1));
        var late = new long[1];
        await reservoir.TakeAsync(late, connection, null, CancellationToken.None);
        Assert.Multiple(async () =>
        {
            Assert.That(late[0], Is.EqualTo(b + 8), "a block older than FreshFor is left behind (b+6 and b+7 unused), so ids keep the order of writing");
            Assert.That(await SequenceAsync(), Is.EqualTo(b + 9), "the next block is what was used of the stale one: 2");
        });

        var many = new long[20];
        await reservoir.TakeAsync(many, connection, null, CancellationToken.None);
        Assert.That(many, Is.EqualTo(Enumerable.Range(10, 20).Select(i => b + i)), "a transaction larger than the block reserves what it needs (b+9, too few, is left behind)");
    }

    [Test]
    public async Task An_id_taken_ahead_that_is_already_in_use_is_given_up_and_the_lead_stored_under_a_new_one()
    {
        var first = (long)(await SubmitAsync())["backupId"]!;
        // The next id this API would use, reserved or not, taken by a lead written by hand (as after a restore, or a
        // reset of the leads' sequence).
        await ExecuteAsync($"""
            CREATE TEMP TABLE by_hand AS SELECT * FROM hermes_leads;
            UPDATE by_hand SET id = {first + 1}, lead_id = 'lead_by_hand';
            INSERT INTO hermes_leads SELECT * FROM by_hand;
            """);

        var answer = await SubmitAsync();

        Assert.Multiple(async () =>
        {
            Assert.That((long)answer["backupId"]!, Is.GreaterThan(first + 1), "stored under an id reserved anew");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(3));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id AND (o.payload->>'backupId')::bigint = l.id"), Is.EqualTo(2));
            Assert.That(Factory.Logs.Entries, Has.Some.Contains(" 3014: "), "the renewal is logged");
        });
    }

    private Task<long> SequenceAsync() => ScalarAsync<long>("SELECT last_value FROM hermes_leads_id_seq");

    private async Task<JsonObject> SubmitAsync()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody());
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return await ReadJsonAsync(response);
    }
}
