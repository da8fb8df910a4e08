using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Hermes.Tests.Api;

public sealed class ValidationTests : ApiTest
{
    /// <summary>Marks a field left out of the body.</summary>
    private const string Missing = "<missing>";

    private static IEnumerable<TestCaseData> InvalidFields()
    {
        static TestCaseData Case(string field, object? value, string message, string name) =>
            new TestCaseData(field, value, message).SetName($"Invalid_{field}_{name}_is_reported_and_nothing_is_stored");

        yield return Case("firstName", Missing, "required", "missing");
        yield return Case("firstName", "", "required", "empty");
        yield return Case("firstName", "   ", "required", "blank");
        yield return Case("firstName", new string('a', 101), "at most 100", "too_long");
        yield return Case("firstName", "Ada\nLovelace", "line breaks", "with_a_line_break");
        yield return Case("firstName", "Ada\u0007", "control", "with_a_control_character");
        yield return Case("lastName", null, "required", "null");
        yield return Case("lastName", "\u202Eecalevol", "control", "with_a_bidi_override");
        yield return Case("email", Missing, "required", "missing");
        yield return Case("email", "not-an-email", "valid email", "without_at");
        yield return Case("email", "ada@localhost", "valid email", "without_a_domain");
        yield return Case("email", "ada lovelace@example.com", "valid email", "with_a_space");
        yield return Case("email", new string('a', 250) + "@example.com", "at most 255", "too_long");
        yield return Case("country", Missing, "required", "missing");
        yield return Case("country", new string('c', 101), "at most 100", "too_long");
        yield return Case("phoneNumber", Missing, "required", "missing");
        yield return Case("phoneNumber", "call me", "phone number", "without_digits");
        yield return Case("phoneNumber", "12345", "phone number", "too_short");
        yield return Case("phoneNumber", "+1 555 0100 ext. 7", "phone number", "with_letters");
        yield return Case("userRole", new string('r', 101), "at most 100", "too_long");
        yield return Case("problemDescription", Missing, "required", "missing");
        yield return Case("problemDescription", new string('p', 5001), "at most 5000", "too_long");
        yield return Case("problemDescription", "Hello\u0000world", "control", "with_a_nul");
        yield return Case("companyName", new string('n', 256), "at most 255", "too_long");
        yield return Case("companySize", "enormous", "Must be one of", "unknown");
        yield return Case("serviceUrgency", "whenever", "Must be one of", "unknown");
        yield return Case("agreeToTerms", false, "terms", "false");
        yield return Case("agreeToTerms", Missing, "terms", "missing");
        yield return Case("privacyConsent", false, "privacy", "false");
        yield return Case("privacyConsent", null, "privacy", "null");
        yield return Case("captchaToken", new string('t', 501), "at most 500", "too_long");
        yield return Case("source", "<script>", "letters, digits", "with_markup");
        yield return Case("source", new string('s', 51), "at most 50", "too_long");
    }

    [TestCaseSource(nameof(InvalidFields))]
    public async Task Invalid_field_is_reported_by_name_and_nothing_is_stored(string field, object? value, string message)
    {
        var body = ValidBody();
        if (value is Missing)
        {
            body.Remove(field);
        }
        else
        {
            body[field] = value is null ? null : JsonValue.Create(value);
        }

        using var response = await PostJsonAsync("/api/leads", body);

        var problem = await ReadProblemAsync(response, 400);
        var errors = problem["errors"]!.AsObject();
        Assert.Multiple(() =>
        {
            Assert.That(errors.Select(static e => e.Key), Is.EqualTo(new[] { field }), "only the broken field is reported");
            Assert.That(errors[field]![0]!.ToString(), Does.Contain(message));
            Assert.That((string?)problem["title"], Is.EqualTo("The submission is not valid"));
        });
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task All_invalid_fields_are_reported_at_once()
    {
        var body = ValidBody();
        body.Remove("firstName");
        body["email"] = "nope";
        body["agreeToTerms"] = false;

        using var response = await PostJsonAsync("/api/leads", body);

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]!.AsObject().Select(static e => e.Key), Is.EquivalentTo(new[] { "firstName", "email", "agreeToTerms" }));
        await AssertNothingStoredAsync();
    }

    [TestCase("{", TestName = "Malformed_json_unclosed_object_is_400")]
    [TestCase("{\"firstName\": }", TestName = "Malformed_json_missing_value_is_400")]
    [TestCase("{\"firstName\": \"Ada\",}", TestName = "Malformed_json_trailing_comma_is_400")]
    [TestCase("{'firstName': 'Ada'}", TestName = "Malformed_json_single_quotes_is_400")]
    [TestCase("{\"firstName\": \"Ada\"} trailing", TestName = "Malformed_json_trailing_text_is_400")]
    [TestCase("{\"firstName\": \"Ada\" /* comment */}", TestName = "Malformed_json_comment_is_400")]
    [TestCase("not json at all", TestName = "Malformed_json_plain_text_is_400")]
    [TestCase("", TestName = "Malformed_json_empty_body_is_400")]
    [TestCase("null", TestName = "Malformed_json_null_body_is_400")]
    [TestCase("[]", TestName = "Malformed_json_array_body_is_400")]
    [TestCase("\"a string\"", TestName = "Malformed_json_string_body_is_400")]
    [TestCase("42", TestName = "Malformed_json_number_body_is_400")]
    public async Task Malformed_body_is_400_and_stores_nothing(string body)
    {
        using var response = await PostRawAsync("/api/leads", body, "application/json");

        var problem = await ReadProblemAsync(response, 400);
        Assert.That((string?)problem["detail"], Does.Contain("JSON").Or.Contain("empty"));
        Assert.That((string?)problem["detail"], Does.Not.Contain("Ada"), "the body is never echoed");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Body_that_is_not_utf8_is_400()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"firstName\": \"Ad\u00e9\"}");
        bytes[^3] = 0xFF;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await Client.SendAsync(request);

        await ReadProblemAsync(response, 400);
        await AssertNothingStoredAsync();
    }

    [TestCase("firstName", "123", "Must be a string.", TestName = "Wrong_type_number_for_a_string_is_400_naming_the_field")]
    [TestCase("email", "{\"a\": 1}", "Must be a string.", TestName = "Wrong_type_object_for_a_string_is_400_naming_the_field")]
    [TestCase("lastName", "[\"x\"]", "Must be a string.", TestName = "Wrong_type_array_for_a_string_is_400_naming_the_field")]
    [TestCase("agreeToTerms", "\"yes\"", "Must be true or false.", TestName = "Wrong_type_string_for_a_boolean_is_400_naming_the_field")]
    [TestCase("privacyConsent", "1", "Must be true or false.", TestName = "Wrong_type_number_for_a_boolean_is_400_naming_the_field")]
    public async Task Wrong_type_is_400_naming_the_field(string field, string json, string message)
    {
        var body = ValidBody();
        body[field] = JsonNode.Parse(json);

        using var response = await PostJsonAsync("/api/leads", body);

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]?[field]?[0]?.ToString(), Is.EqualTo(message), problem.ToJsonString());
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Wrong_type_inside_backup_lead_names_the_nested_field()
    {
        var form = ValidBody();
        form["marketingConsent"] = "sure";
        using var response = await PostJsonAsync("/api/backup-lead", new JsonObject { ["formData"] = form });

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]?["formData.marketingConsent"]?[0]?.ToString(), Is.EqualTo("Must be true or false."), problem.ToJsonString());
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Form_data_that_is_not_an_object_is_400()
    {
        using var response = await PostJsonAsync("/api/backup-lead", new JsonObject { ["formData"] = "Ada Lovelace" });

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]?["formData"]?[0]?.ToString(), Is.EqualTo("Must be a JSON object."));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Optional_fields_may_be_null_and_get_the_seeds_defaults()
    {
        var body = ValidBody();
        foreach (var field in new[] { "userRole", "companyName", "companySize", "serviceUrgency", "marketingConsent", "captchaToken", "source" })
        {
            body[field] = null;
        }

        using var response = await PostJsonAsync("/api/leads", body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.Multiple(async () =>
        {
            Assert.That(await ScalarAsync<string?>("SELECT user_role FROM hermes_leads"), Is.Null);
            Assert.That(await ScalarAsync<string?>("SELECT company_name FROM hermes_leads"), Is.Null);
            Assert.That(await ScalarAsync<string?>("SELECT company_size FROM hermes_leads"), Is.Null);
            Assert.That(await ScalarAsync<string?>("SELECT captcha_token FROM hermes_leads"), Is.Null);
            Assert.That(await ScalarAsync<string>("SELECT service_urgency FROM hermes_leads"), Is.EqualTo("not-urgent"));
            Assert.That(await ScalarAsync<string>("SELECT priority FROM hermes_leads"), Is.EqualTo("low"));
            Assert.That(await ScalarAsync<bool>("SELECT marketing_consent FROM hermes_leads"), Is.False);
            Assert.That(await ScalarAsync<string>("SELECT source FROM hermes_leads"), Is.EqualTo("hermes-website"));
        });
    }

    [Test]
    public async Task Unknown_fields_are_ignored()
    {
        var body = ValidBody();
        body["honeypot"] = "";
        body["utm"] = new JsonObject { ["campaign"] = "spring", ["n"] = 3 };
        body["Id"] = 999;
        body["status"] = "forwarded";

        using var response = await PostJsonAsync("/api/leads", body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads"), Is.EqualTo("queued"), "a client cannot set what it is not offered");
        Assert.That(await ScalarAsync<long>("SELECT id FROM hermes_leads"), Is.Not.EqualTo(999));
    }

    [Test]
    public async Task Field_names_are_matched_regardless_of_case()
    {
        var body = new JsonObject();
        foreach (var (key, value) in ValidBody())
        {
            body[char.ToUpperInvariant(key[0]) + key[1..]] = value?.DeepClone();
        }

        using var response = await PostJsonAsync("/api/leads", body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Very_long_string_within_the_body_limit_is_a_field_error_not_a_crash()
    {
        var body = ValidBody();
        body["firstName"] = new string('A', 40_000);
        body["problemDescription"] = string.Concat(Enumerable.Repeat("🚀", 1_000));

        using var response = await PostJsonAsync("/api/leads", body);

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]!.AsObject().Select(static e => e.Key), Is.EquivalentTo(new[] { "firstName" }));
        Assert.That(problem.ToJsonString(), Does.Not.Contain("AAAA"), "the value is not echoed");
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Longest_allowed_values_are_stored_whole()
    {
        var body = ValidBody();
        body["firstName"] = new string('f', 100);
        body["companyName"] = new string('c', 255);
        body["problemDescription"] = string.Concat(Enumerable.Repeat("line of text\n", 384)) + "end.";

        using var response = await PostJsonAsync("/api/leads", body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.That(await ScalarAsync<int>("SELECT length(first_name) FROM hermes_leads"), Is.EqualTo(100));
        Assert.That(await ScalarAsync<int>("SELECT length(company_name) FROM hermes_leads"), Is.EqualTo(255));
        Assert.That(await ScalarAsync<string>("SELECT problem_description FROM hermes_leads"), Is.EqualTo((string)body["problemDescription"]!));
    }

    [Test]
    public async Task Unicode_is_stored_verbatim()
    {
        var body = ValidBody();
        body["firstName"] = "Zoë 李小龍 🚀";
        body["lastName"] = "محمد";
        body["companyName"] = "Ærø Søfteware ‍👩‍💻";
        body["problemDescription"] = "Ünïcödé everywhere: ñ, ß, 日本語, emoji 🔐🛡️.\nSecond line.";

        using var response = await PostJsonAsync("/api/leads", body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.Multiple(async () =>
        {
            Assert.That(await ScalarAsync<string>("SELECT first_name FROM hermes_leads"), Is.EqualTo("Zoë 李小龍 🚀"));
            Assert.That(await ScalarAsync<string>("SELECT last_name FROM hermes_leads"), Is.EqualTo("محمد"));
            Assert.That(await ScalarAsync<string>("SELECT company_name FROM hermes_leads"), Is.EqualTo("Ærø Søfteware ‍👩‍💻"));
            Assert.That(await ScalarAsync<string>("SELECT payload->'lead'->>'problemDescription' FROM hermes_outbox"), Is.EqualTo((string)body["problemDescription"]!));
        });
    }

    [Test]
    public async Task Sql_and_html_are_stored_verbatim_and_never_returned_raw()
    {
        const string sql = "Robert'); DROP TABLE hermes_leads; -- \" OR 1=1; SELECT pg_sleep(10);";
        const string html = "<script>alert('x')</script> & <img src=x onerror=alert(1)> <b>bold</b>";
        var body = ValidBody();
        body["lastName"] = "O'Brien-\"Smith\"";
        body["companyName"] = html;
        body["problemDescription"] = sql + "\n" + html;
        body["userRole"] = "$1 $$ %s {0} \\u0000";

        using var response = await PostJsonAsync("/api/leads", body, configure: static r => r.Headers.TryAddWithoutValidation("User-Agent", "<svg onload=alert(1)>"));

        var raw = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), raw);
        Assert.That(raw, Does.Not.Contain("<").And.Not.Contain(">"), "nothing of the input is echoed unescaped");
        Assert.Multiple(async () =>
        {
            Assert.That(await ScalarAsync<string>("SELECT last_name FROM hermes_leads"), Is.EqualTo("O'Brien-\"Smith\""));
            Assert.That(await ScalarAsync<string>("SELECT company_name FROM hermes_leads"), Is.EqualTo(html));
            Assert.That(await ScalarAsync<string>("SELECT problem_description FROM hermes_leads"), Is.EqualTo(sql + "\n" + html));
            Assert.That(await ScalarAsync<string>("SELECT user_role FROM hermes_leads"), Is.EqualTo("$1 $$ %s {0} \\u0000"));
            Assert.That(await ScalarAsync<string>("SELECT user_agent FROM hermes_leads"), Is.EqualTo("<svg onload=alert(1)>"));
            Assert.That(await ScalarAsync<string>("SELECT payload->'lead'->>'companyName' FROM hermes_outbox"), Is.EqualTo(html));
            Assert.That(await ScalarAsync<string>("SELECT payload->'lead'->>'problemDescription' FROM hermes_outbox"), Is.EqualTo(sql + "\n" + html));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE tablename = 'hermes_leads'"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Rejected_html_is_not_echoed_in_the_problem()
    {
        var body = ValidBody();
        body["email"] = "<script>alert(1)</script>@example.com";
        body["source"] = "<img src=x>";

        using var response = await PostJsonAsync("/api/leads", body);

        var raw = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That(raw, Does.Not.Contain("<").And.Not.Contain("script"));
        await AssertNothingStoredAsync();
    }
}
