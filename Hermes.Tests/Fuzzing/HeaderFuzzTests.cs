using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Tests.Api;

namespace Hermes.Tests.Fuzzing;

/// <summary>
/// The request headers Hermes reads (User-Agent, X-Forwarded-For, Idempotency-Key, Origin) with the values that break
/// naive code: lengths around every limit with an emoji or a combining mark at the cut, NUL and control characters,
/// lone surrogates, bytes that are not UTF-8, huge values, address syntax of every kind. Sent over real Kestrel, as
/// UTF-8 and as raw Latin-1 bytes, to both submission endpoints (and the seed's <c>metadata.userAgent</c>). Never a
/// 5xx; an accepted lead's stored text is storable and within its column; a refused one stores nothing.
/// </summary>
[Category("Fuzzing")]
public sealed class HeaderFuzzTests : ApiTest
{
    private const int KeyMax = 255;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        // Loopback is the trusted proxy, so X-Forwarded-For is parsed rather than ignored.
        ["Intake:TrustedProxies"] = "127.0.0.1, ::1",
        ["Intake:Cors:AllowedOrigins"] = "https://hermes.example",
    };

    private static IEnumerable<string> Values()
    {
        foreach (var limit in new[] { LeadSubmissionValidator.UserAgentMax, KeyMax, 64 })
        {
            for (var k = limit - 3; k <= limit + 1; k++)
            {
                yield return new string('a', k) + "😀";
                yield return new string('a', k) + "e\u0301\u0301";
                yield return new string('a', k) + "👨‍👩‍👧";
            }
        }

        yield return "";
        yield return " ";
        yield return "\0";
        yield return "a\0b";
        yield return "\ud800";
        yield return "x\udc00y";
        yield return "\u0001\u001f\u007f";
        yield return "\u00ff\u00fe\u00c3";
        yield return new string('x', 8000);
        yield return string.Concat(Enumerable.Repeat("😀", 600));
        yield return "203.0.113.9";
        yield return "203.0.113.9, 10.0.0.1, ::1";
        yield return "999.999.999.999";
        yield return "fe80::1%eth0";
        yield return "[2001:db8::1]:443";
        yield return "unknown, , ,";
        yield return "null";
        yield return "https://hermes.example";
        yield return "https://😀.example";
        yield return "https://hermes.example\0.evil";
        yield return "550e8400-e29b-41d4-a716-446655440000";
    }

    [TestCase("User-Agent")]
    [TestCase("X-Forwarded-For")]
    [TestCase("Idempotency-Key")]
    [TestCase("Origin")]
    public async Task Hostile_header_values_get_a_4xx_or_a_stored_lead_never_a_5xx(string header)
    {
        var failures = new List<string>();
        var accepted = 0;
        var i = 0;
        foreach (var value in Values())
        {
            foreach (var encoding in new[] { Encoding.UTF8, Encoding.Latin1 })
            {
                foreach (var path in new[] { "/api/leads", "/api/backup-lead" })
                {
                    i++;
                    var result = await SendAsync(path, header, value, encoding, bodyUserAgent: null, i);
                    accepted += result.Accepted ? 1 : 0;
                    if (result.Failure is { } failure)
                    {
                        failures.Add($"{header} = {Describe(value)} as {encoding.WebName} to {path}: {failure}");
                    }
                }
            }
        }

        Assert.That(failures, Is.Empty);
        Assert.That(accepted, Is.GreaterThan(0), "some values are harmless and must be accepted");
    }

    [Test]
    public async Task Hostile_user_agents_in_the_backup_lead_metadata_never_cause_a_5xx()
    {
        var failures = new List<string>();
        var i = 1000;
        foreach (var value in Values())
        {
            var result = await SendAsync("/api/backup-lead", header: null, value: null, Encoding.UTF8, bodyUserAgent: value, ++i);
            if (result.Failure is { } failure)
            {
                failures.Add($"metadata.userAgent = {Describe(value)}: {failure}");
            }
        }

        Assert.That(failures, Is.Empty);
    }

    private async Task<(bool Accepted, string? Failure)> SendAsync(string path, string? header, string? value, Encoding encoding, string? bodyUserAgent, int index)
    {
        var form = ValidBody();
        form["email"] = $"header{index}@example.com";
        JsonNode body = path == "/api/leads" ? form : new JsonObject
        {
            ["formData"] = form,
            ["metadata"] = new JsonObject { ["userAgent"] = bodyUserAgent, ["timestamp"] = "2026-12-01T00:00:00Z" },
        };
        var before = await LeadCountAsync();
        using var handler = new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => encoding };
        using var client = new HttpClient(handler) { BaseAddress = Client.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        if (header is not null && !request.Headers.TryAddWithoutValidation(header, value))
        {
            return (false, null);
        }

        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            // The client itself refused to put the value on the wire (CR, LF or NUL in a header): nothing was sent.
            return (false, null);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            var after = await LeadCountAsync();
            if (status >= 500)
            {
                return (false, $"answered {status}: {await response.Content.ReadAsStringAsync()}");
            }

            if (status != 201)
            {
                return (false, after == before ? null : $"answered {status} but stored {after - before} leads");
            }

            if (after != before + 1)
            {
                return (true, $"answered 201 but stored {after - before} leads");
            }

            var leadId = (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["leadId"]!;
            var agent = await ScalarAsync<string?>($"SELECT user_agent FROM hermes_leads WHERE lead_id = '{leadId}'");
            if (agent is not null && (agent.Length > LeadSubmissionValidator.UserAgentMax || !SafeText.IsStorable(agent)))
            {
                return (true, $"stored a user agent of {agent.Length} characters that is not clean");
            }

            return (true, null);
        }
    }

    private static string Describe(string value) =>
        value.Length > 30 ? $"{value.Length} chars ending {string.Concat(value[^6..].Select(static c => c < 128 && !char.IsControl(c) ? c.ToString() : $"\\u{(int)c:x4}"))}"
        : string.Concat(value.Select(static c => c < 128 && !char.IsControl(c) ? c.ToString() : $"\\u{(int)c:x4}"));
}
