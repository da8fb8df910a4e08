using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Fuzzing;

/// <summary>
/// Generated bodies against both submission endpoints (seeded, so a failure names a case that can be replayed):
/// malformed JSON, wrong types, deep nesting, huge and empty values, invalid UTF-8, control characters, injection
/// strings, and valid forms full of unusual text. Never a 5xx; a rejected body stores nothing; an accepted one
/// reads back from the database exactly as the validator normalised it; no error body shows internals.
/// <c>HERMES_FUZZ_CASES</c> sets the number of cases per endpoint (default 300), <c>HERMES_FUZZ_SEED</c> the seed.
/// </summary>
[Category("Fuzzing")]
public sealed class SubmissionFuzzTests : ApiTest
{
    private static readonly string[] Injections =
    [
        "'; DROP TABLE hermes_leads; --",
        "\" OR 1=1 --",
        "Robert'); DELETE FROM hermes_outbox;--",
        "$1$2$3",
        "<script>alert(1)</script>",
        "{{7*7}}${7*7}",
        "${jndi:ldap://127.0.0.1/a}",
        "../../../../etc/passwd",
        "%00%0d%0aSet-Cookie: a=b",
        "\\u0000\\\\x00",
        "𝕳𝖊𝖗𝖒𝖊𝖘 👩‍💻 مرحبا שלום 日本語",
        "e\u0301 (combining) Å ﬁ",
        "Zalgo: Z̵̧̛a̸͎l̶g̷o̵",
        "\u200b\u200d zero-width",
        "💩💩💩",
        "SELECT pg_sleep(10);",
    ];

    private static IReadOnlyList<string> Fields => TestData.FormFields;

    private static readonly string[] Internals = ["   at ", "Exception", "Npgsql", "SQLSTATE", "INSERT INTO", "hermes_outbox", "StackTrace", "System.", "Microsoft."];

    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("HERMES_FUZZ_CASES"), out var n) ? n : 300;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("HERMES_FUZZ_SEED"), out var n) ? n : 20261122;

    [TestCase("/api/leads")]
    [TestCase("/api/backup-lead")]
    public async Task Generated_bodies_never_cause_a_5xx_store_nothing_when_rejected_and_read_back_exactly_when_accepted(string path)
    {
        var accepted = 0;
        var rejected = new Dictionary<int, int>();
        var failures = new List<string>();
        for (var i = 0; i < Cases; i++)
        {
            var random = new Random(HashCode.Combine(Seed, path.Length, i));
            var (kind, body) = Generate(random, path);
            var before = await LeadCountAsync();
            var outboxBefore = await OutboxCountAsync();

            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-8");
            request.Headers.TryAddWithoutValidation("User-Agent", "hermes-fuzz/1.0");
            using var response = await Client.SendAsync(request);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            var after = await LeadCountAsync();
            var outboxAfter = await OutboxCountAsync();
            var label = $"case {i} ({kind}, seed {Seed}) → {status}";

            if (status >= 500)
            {
                failures.Add($"{label}: a 5xx: {text}");
                continue;
            }

            if (response.IsSuccessStatusCode)
            {
                accepted++;
                if (after != before + 1 || outboxAfter != outboxBefore + 1)
                {
                    failures.Add($"{label}: accepted but stored {after - before} leads, {outboxAfter - outboxBefore} outbox rows");
                    continue;
                }

                var leadId = (string)JsonNode.Parse(text)!["leadId"]!;
                if (await CompareStoredAsync(leadId, FormOf(path, body)) is { } mismatch)
                {
                    failures.Add($"{label}: {mismatch}");
                }
            }
            else
            {
                rejected[status] = rejected.GetValueOrDefault(status) + 1;
                if (after != before || outboxAfter != outboxBefore)
                {
                    failures.Add($"{label}: rejected but stored {after - before} leads, {outboxAfter - outboxBefore} outbox rows");
                }

                if (Internals.FirstOrDefault(m => text.Contains(m, StringComparison.Ordinal)) is { } leak)
                {
                    failures.Add($"{label}: the error body shows internals ({leak}): {text[..Math.Min(text.Length, 400)]}");
                }

                if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    failures.Add($"{label}: the error is not a problem detail ({response.Content.Headers.ContentType})");
                }
            }
        }

        TestContext.Out.WriteLine($"{path}: {Cases} cases, {accepted} accepted, rejected {string.Join(", ", rejected.OrderBy(static r => r.Key).Select(static r => $"{r.Key}×{r.Value}"))}");
        Assert.That(failures, Is.Empty);
        Assert.Multiple(() =>
        {
            Assert.That(accepted, Is.GreaterThan(Cases / 20), "the generator also produces valid bodies, so the read-back is exercised");
            Assert.That(rejected.Values.Sum(), Is.GreaterThan(Cases / 2), "most generated bodies are hostile and refused");
        });
    }

    /// <summary>The stored lead against the validator's normalisation of the form that was sent.</summary>
    private async Task<string?> CompareStoredAsync(string leadId, LeadForm? form)
    {
        if (form is null)
        {
            return "accepted a body the generator did not consider a form";
        }

        var expected = LeadSubmissionValidator.Validate(form, new SubmissionMetadata("hermes-fuzz/1.0", IPAddress.Loopback), new LeadValidationOptions());
        if (expected.Submission is not { } s)
        {
            return "accepted a form the validator refuses: " + string.Join(", ", expected.Errors.Keys);
        }

        await using var command = DataSource.CreateCommand(
            "SELECT first_name, last_name, email, country, phone_number, user_role, problem_description, company_name, company_size, service_urgency, captcha_token, source, marketing_consent FROM hermes_leads WHERE lead_id = $1");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = leadId });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return $"lead {leadId} not found";
        }

        string? Get(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        var pairs = new (string Field, string? Stored, string? Expected)[]
        {
            ("first_name", Get(0), s.FirstName), ("last_name", Get(1), s.LastName), ("email", Get(2), s.Email), ("country", Get(3), s.Country),
            ("phone_number", Get(4), s.PhoneNumber), ("user_role", Get(5), s.UserRole), ("problem_description", Get(6), s.ProblemDescription),
            ("company_name", Get(7), s.CompanyName), ("company_size", Get(8), s.CompanySize), ("service_urgency", Get(9), s.ServiceUrgency),
            ("captcha_token", Get(10), s.CaptchaToken), ("source", Get(11), s.Source),
        };
        var differences = pairs.Where(static p => !string.Equals(p.Stored, p.Expected, StringComparison.Ordinal))
            .Select(static p => $"{p.Field}: stored {Show(p.Stored)}, sent (normalised) {Show(p.Expected)}").ToList();
        if (reader.GetBoolean(12) != s.MarketingConsent)
        {
            differences.Add("marketing_consent");
        }

        return differences.Count == 0 ? null : string.Join("; ", differences);
    }

    private static string Show(string? value) => value is null ? "null" : JsonSerializer.Serialize(value);

    private static (string Kind, byte[] Body) Generate(Random random, string path)
    {
        var form = ValidBody();
        form["email"] = $"fuzz{random.Next(1_000_000)}@example.com";
        var kind = random.Next(9) switch
        {
            0 => "malformed",
            1 => "wrong-type",
            2 => "deep",
            3 => "huge",
            4 => "empty",
            5 => "invalid-utf8",
            6 => "control",
            7 => "injection",
            _ => "unusual-text",
        };

        var field = Fields[random.Next(Fields.Count)];
        var textField = Fields[random.Next(10)] is var f && f is "email" or "companySize" or "serviceUrgency" ? "problemDescription" : f;
        switch (kind)
        {
            case "wrong-type":
                form[field] = random.Next(6) switch
                {
                    0 => JsonValue.Create(random.Next()),
                    1 => new JsonArray("a", 1),
                    2 => new JsonObject { ["x"] = 1 },
                    3 => JsonValue.Create(random.NextDouble() * 1e300),
                    4 => JsonValue.Create(field.EndsWith("Terms", StringComparison.Ordinal) || field.EndsWith("Consent", StringComparison.Ordinal) ? "true" : "yes"),
                    _ => JsonValue.Create(true),
                };
                break;
            case "deep":
                var depth = random.Next(30, 3000);
                var deepText = new StringBuilder();
                deepText.Append('[', depth).Append("\"x\"").Append(']', depth);
                var bodyText = Wrap(path, form).ToJsonString().Replace($"\"{field}\":", $"\"{field}\":{deepText},\"_{field}\":", StringComparison.Ordinal);
                return (kind, Encoding.UTF8.GetBytes(bodyText));
            case "huge":
                form[textField] = new string((char)('a' + random.Next(26)), random.Next(2) == 0 ? random.Next(90, 6000) : random.Next(60_000, 200_000));
                break;
            case "empty":
                form[field] = random.Next(3) switch { 0 => "", 1 => "   ", _ => null };
                break;
            case "control":
                var c = (char)random.Next(0, 0x20) is var ch && random.Next(4) == 0 ? (char)0x7f : ch;
                if (random.Next(3) == 0)
                {
                    c = "\u2028\u2029\u202e\u2066\ud800"[random.Next(5)];
                }

                form[textField] = "Ada" + c + "Lovelace";
                break;
            case "injection":
                form[textField] = Injections[random.Next(Injections.Length)];
                break;
            case "unusual-text":
                var name = Injections[10 + random.Next(6)];
                form["firstName"] = name[..Math.Min(30, name.Length)];
                form["lastName"] = "  O'Brien-Łukasz  \t Ñoño ";
                form["problemDescription"] = "Line one\r\nLine two\rLine three\n\ttabbed " + Injections[random.Next(Injections.Length)];
                form["companyName"] = Injections[random.Next(Injections.Length)];
                form["email"] = $"Fuzz.{random.Next(1000)}@Bücher.Example";
                break;
        }

        var bytes = Encoding.UTF8.GetBytes(Wrap(path, form).ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        switch (kind)
        {
            case "malformed":
                bytes = random.Next(4) switch
                {
                    0 => bytes[..random.Next(bytes.Length)],
                    1 => [.. bytes[..^1], (byte)',', (byte)'}'],
                    2 => Encoding.UTF8.GetBytes("{\"firstName\": 'Ada', }"),
                    _ => Mutate(random, bytes),
                };
                return (kind, bytes);
            case "invalid-utf8":
                var invalid = new[] { new byte[] { 0xC3, 0x28 }, [0xFF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF] }[random.Next(5)];
                var at = Encoding.UTF8.GetBytes("\"Ada").Length;
                var index = IndexOf(bytes, Encoding.UTF8.GetBytes("\"Ada\"")) + at;
                return (kind, [.. bytes[..index], .. invalid, .. bytes[index..]]);
        }

        return (kind, bytes);
    }

    /// <summary>The form an accepted body carried, read the way the API reads it (web defaults, strict).</summary>
    private static LeadForm? FormOf(string path, byte[] body)
    {
        try
        {
            var node = JsonNode.Parse(body)!;
            var form = path == "/api/leads" ? node : node["formData"]!;
            return form.Deserialize<LeadForm>(JsonSerializerOptions.Web);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonNode Wrap(string path, JsonObject form) =>
        path == "/api/leads" ? form : new JsonObject { ["formData"] = form, ["metadata"] = new JsonObject { ["userAgent"] = "ignored", ["timestamp"] = "2026-11-22T00:00:00Z" } };

    private static byte[] Mutate(Random random, byte[] bytes)
    {
        var copy = (byte[])bytes.Clone();
        for (var n = random.Next(1, 6); n > 0; n--)
        {
            copy[random.Next(copy.Length)] = (byte)"{}[]\":,\\ x0"[random.Next(11)];
        }

        return copy;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Length; i++)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                return i;
            }
        }

        throw new InvalidOperationException("marker not found");
    }
}
