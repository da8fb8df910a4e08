using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Worker;

/// <summary>
/// A receiver that answers every delivery with something hostile, drawn at random (seeded per webhook id and attempt,
/// so a failure can be replayed): random status codes; huge bodies; emoji at every cut point; lone surrogate and NUL
/// escapes; numbers jsonb refuses; deep nesting; invalid UTF-8; garbage Retry-After; gzip bodies, gzip bombs and
/// corrupt gzip; huge headers; slow, hanging and dropped connections. Every row must end delivered or failed within
/// its attempts, no row may be POSTed more often than <c>Outbox:MaxAttempts</c> (no worker dies here), the worker must
/// stay healthy, and everything stored must read back. <c>HERMES_HOSTILE_CASES</c> sets the number of leads (default
/// 1000), <c>HERMES_HOSTILE_SEED</c> the seed.
/// </summary>
[Category("Fuzzing")]
public sealed class HostileReceiverTests : WorkerTest
{
    private const int MaxAttempts = 4;

    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("HERMES_HOSTILE_CASES"), out var n) ? n : 1000;

    private static uint Seed => uint.TryParse(Environment.GetEnvironmentVariable("HERMES_HOSTILE_SEED"), out var n) ? n : 20261201;

    private static readonly int[] Statuses = [200, 200, 200, 201, 202, 204, 299, 301, 302, 400, 401, 404, 408, 409, 410, 418, 422, 429, 500, 500, 502, 503, 504, 599];

    private static readonly string[] RetryAfters = ["soon", "-5", "99999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "1.5", "0", "", "\u00ff\u00fe", "Fri, 31 Dec 9999 23:59:59 GMT"];

    [Test]
    public async Task Every_row_ends_delivered_or_failed_within_its_attempts_whatever_the_receiver_answers()
    {
        await InsertLeadsAsync(Cases);
        var answered2xx = new ConcurrentDictionary<string, bool>();
        Receiver.Behaviour = async (request, context) =>
        {
            var random = new Random((int)Hash(Seed, request.WebhookId, request.Attempt));
            var status = Statuses[random.Next(Statuses.Length)];
            if (status is >= 200 and <= 299)
            {
                answered2xx[request.WebhookId] = true;
            }

            await AnswerAsync(random, status, context);
        };
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Outbox:MaxAttempts"] = MaxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Outbox:Concurrency"] = "32",
            ["Outbox:BatchSize"] = "32",
            ["Outbox:RequestTimeout"] = "00:00:00.500",
            ["Outbox:Lease"] = "00:00:20",
            ["Outbox:BaseDelay"] = "00:00:00.005",
            ["Outbox:MaxDelay"] = "00:00:00.050",
            ["Outbox:MaxRetryAfter"] = "00:00:00.200",
            // The breaker is not under test: kept from opening so the run measures the answers, not break pauses.
            ["Outbox:CircuitBreaker:MinimumThroughput"] = "100000000",
        });

        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'") == 0,
            "every row is delivered or failed", TimeSpan.FromMinutes(4));

        var perRow = Receiver.Requests.GroupBy(static r => r.WebhookId).ToDictionary(static g => g.Key, static g => g.Count());
        var statuses = await RowsAsync();
        TestContext.Out.WriteLine($"{Cases} rows, {Receiver.Count} requests: {statuses.Count(static s => s.Value.Status == "delivered")} delivered, " +
            $"{statuses.Count(static s => s.Value.Status == "failed")} failed");
        Assert.Multiple(() =>
        {
            Assert.That(statuses, Has.Count.EqualTo(Cases));
            Assert.That(perRow.Values.Max(), Is.LessThanOrEqualTo(MaxAttempts), "no row is POSTed more often than its attempts allow");
            foreach (var (id, row) in statuses)
            {
                Assert.That(row.Status, Is.AnyOf("delivered", "failed"), id);
                Assert.That(perRow.GetValueOrDefault(id), Is.InRange(1, row.Attempts), $"{id}: POSTs within its claims");
                if (row.Status == "delivered")
                {
                    Assert.That(answered2xx.ContainsKey(id), Is.True, $"{id} delivered without a 2xx answer");
                }
                else
                {
                    Assert.That(row.Attempts == MaxAttempts || row.LastStatus == 410, Is.True, $"{id} failed early: {row.Attempts} attempts, last {row.LastStatus}");
                }
            }

            Assert.That(worker.State.FatalError, Is.Null);
            Assert.That(worker.Log.Where(static e => e.EventId is 4005 or 4035 or 4036).Select(static e => e.Message).Take(5), Is.Empty, "no worker defect and no writer trouble");
            Assert.That(worker.Log.Count(static e => e.EventId is 4033 or 4034), Is.Zero, "every answer was made storable before it was written");
        });
        await AssertAllTextReadsBackAsync();
        await using var jsonb = DataSource.CreateCommand("SELECT count(*) FROM hermes_leads WHERE n8n_response_data IS NOT NULL AND jsonb_typeof(n8n_response_data) IS NOT NULL");
        Assert.That(await jsonb.ExecuteScalarAsync(), Is.Positive);
    }

    private async Task<Dictionary<string, (string Status, int Attempts, int? LastStatus)>> RowsAsync()
    {
        await using var command = DataSource.CreateCommand("SELECT 'msg_' || l.lead_id, o.status, o.attempts, o.last_status_code FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, (string, int, int?)>();
        while (await reader.ReadAsync())
        {
            rows[reader.GetString(0)] = (reader.GetString(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetInt32(3));
        }

        return rows;
    }

    private static async Task AnswerAsync(Random random, int status, HttpContext context)
    {
        var response = context.Response;
        switch (random.Next(20))
        {
            case 0:
                context.Abort();
                return;
            case 1:
                await Task.Delay(TimeSpan.FromSeconds(2), context.RequestAborted).ContinueWith(static _ => { }, TaskScheduler.Default);
                return;
            case 2:
                await Task.Delay(random.Next(20, 200));
                break;
            case 3:
                // A start, then the connection drops mid-body.
                response.StatusCode = status;
                response.ContentLength = 5000;
                await response.Body.WriteAsync(Encoding.UTF8.GetBytes("{\"brevoContactId\": 1"));
                await response.Body.FlushAsync();
                context.Abort();
                return;
        }

        response.StatusCode = status;
        if (random.Next(4) == 0)
        {
            response.Headers.RetryAfter = RetryAfters[random.Next(RetryAfters.Length)];
        }

        if (status is 301 or 302 && random.Next(2) == 0)
        {
            response.Headers.Location = random.Next(2) == 0 ? "https://elsewhere.example/😀" : "://garbage";
        }

        if (random.Next(30) == 0)
        {
            response.Headers["X-Huge"] = new string('h', 100_000);
        }

        var (body, contentType, encoding) = Body(random);
        if (contentType is not null)
        {
            response.ContentType = contentType;
        }

        if (encoding is not null)
        {
            response.Headers.ContentEncoding = encoding;
        }

        if (body.Length > 0 && status is not 204)
        {
            await response.Body.WriteAsync(body);
        }
    }

    private static (byte[] Body, string? ContentType, string? Encoding) Body(Random random)
    {
        string Cut(int k, string tail) => new string('a', k) + tail;
        var emoji = "😀👨‍👩‍👧e\u0301";
        switch (random.Next(18))
        {
            case 0:
                return ([], null, null);
            case 1:
                return (Encoding.UTF8.GetBytes(Cut(new[] { 299, 300, 1022, 1023, 1024 }[random.Next(5)], emoji + emoji)), "text/plain", null);
            case 2:
                return (Encoding.UTF8.GetBytes($$"""{"brevoContactId": {{random.Next(1, 1000)}}, "echo": "{{Cut(random.Next(990, 1030), emoji)}}"}"""), "application/json", null);
            case 3:
                return (Encoding.UTF8.GetBytes("""{"brevoContactId": 3, "x": "\ud800", "y": "\udc00\ud800"}"""), "application/json", null);
            case 4:
                return (Encoding.UTF8.GetBytes("""{"brevoContactId": 4, "x": "a\u0000b", "\u0000": 1}"""), "application/json", null);
            case 5:
                return (Encoding.UTF8.GetBytes("""{"brevoContactId": 5, "x": 1e400, "y": 1e200000, "z": -1e-999999}"""), "application/json", null);
            case 6:
                var depth = random.Next(50, 3000);
                return (Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth)), "application/json", null);
            case 7:
                return ([0xFF, 0xFE, 0xC3, 0x28, 0xF0, 0x9F, 0x98, 0x00, 0xED, 0xA0, 0x80, (byte)'{', (byte)'}'], "application/json", null);
            case 8:
                return (Encoding.UTF8.GetBytes(new string('x', 200_000) + emoji), "text/plain", null);
            case 9:
                return (Gzip(Encoding.UTF8.GetBytes($$"""{"brevoContactId": "gz-{{random.Next(100)}}"}""")), "application/json", "gzip");
            case 10:
                // A gzip bomb: 20 MB of zeros in a few KB.
                return (Gzip(new byte[20_000_000]), "application/json", "gzip");
            case 11:
                return ([0x1F, 0x8B, 0x08, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x00, 0x01, 0x02], "application/json", "gzip");
            case 12:
                return (Encoding.UTF8.GetBytes(new[] { """{"brevoContactId": "\ud83d"}""", """{"brevoContactId": "a b"}""", $$"""{"brevoContactId": "{{new string('7', 200)}}"}""", """{"id": 1e30}""", """[{"contactId": -1}]""" }[random.Next(5)]), "application/json", null);
            case 13:
                return (Encoding.UTF8.GetBytes("\0\0\0 NUL " + emoji), "text/plain; charset=latin1", null);
            case 14:
                return (Encoding.UTF8.GetBytes("""{"brevoContactId": 14, "nested": {"a": [1, 2, {"b": "😀"}]}}"""), "application/json", "identity");
            case 15:
                return (Encoding.UTF8.GetBytes("<html><body>502 Bad Gateway</body></html>"), "text/html", null);
            default:
                return (Encoding.UTF8.GetBytes($$"""{"brevoContactId": {{random.Next(1, 100000)}}, "duplicate": false}"""), "application/json", null);
        }
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>FNV-1a over the seed, the webhook id and the attempt: the same answer for the same request in every run.</summary>
    private static uint Hash(uint seed, string id, int attempt)
    {
        var hash = 2166136261u ^ seed;
        foreach (var c in id + "#" + attempt.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
