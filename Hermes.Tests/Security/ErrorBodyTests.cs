using System.Net.Http.Headers;
using System.Text;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Security;

/// <summary>
/// Fuzzes the public surface in Development and in Production and scans every error answer for internals: stack
/// traces, exception names, driver names and SQL. Includes a real server error (a login without privileges).
/// </summary>
[TestFixture("Development")]
[TestFixture("Production")]
public sealed class ErrorBodyTests(string environment) : DatabaseTest, IAsyncDisposable
{
    private const string AdminKey = "fuzz-admin-key-0123456789abcdef-0123";
    private static readonly string[] Internals = ["at Hermes.", "   at ", "Npgsql", "Exception", "SELECT", "INSERT", "UPDATE ", "hermes_leads", "hermes_outbox", "42501", "permission denied", "StackTrace"];

    private readonly DatabaseLogins _logins = new();
    private Api.HermesApiFactory? _api;
    private Api.HermesApiFactory? _broken;
    private Api.HermesAdminFactory? _admin;
    private Api.HermesAdminFactory? _brokenAdmin;

    [OneTimeSetUp]
    public async Task StartHostsAsync()
    {
        var settings = new Dictionary<string, string?> { ["Intake:MaxBodyBytes"] = "8192" };
        _api = new Api.HermesApiFactory(ConnectionString, settings, environment);
        _admin = new Api.HermesAdminFactory(ConnectionString, AdminKey, environment: environment);
        // A login with no grants at all: every statement fails inside the server, a genuine 500.
        var broken = await _logins.CreateAsync(ConnectionString, group: null);
        _broken = new Api.HermesApiFactory(broken, settings, environment);
        _brokenAdmin = new Api.HermesAdminFactory(broken, AdminKey, environment: environment);
    }

    [OneTimeTearDown]
    public async Task StopHostsAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        if (_brokenAdmin is not null)
        {
            await _brokenAdmin.DisposeAsync();
        }

        if (_broken is not null)
        {
            await _broken.DisposeAsync();
        }

        await _logins.DisposeAsync();
    }

    public static IEnumerable<TestCaseData> Fuzz()
    {
        static TestCaseData Case(string name, string method, string path, string? body, string? contentType = "application/json", params (string, string)[] headers) =>
            new TestCaseData(method, path, body, contentType, headers).SetName($"{{C}}.{name}");

        yield return Case("Truncated_json", "POST", "/api/leads", "{\"firstName\": ");
        yield return Case("Json_array", "POST", "/api/leads", "[]");
        yield return Case("Json_null", "POST", "/api/leads", "null");
        yield return Case("Json_string", "POST", "/api/leads", "\"lead\"");
        yield return Case("Wrong_types", "POST", "/api/leads", """{"firstName": 5, "agreeToTerms": "yes", "email": []}""");
        yield return Case("Deep_nesting", "POST", "/api/leads", new string('[', 5000) + new string(']', 5000));
        yield return Case("Duplicate_properties", "POST", "/api/leads", """{"email": "a@b.co", "email": "c@d.co"}""");
        yield return Case("Injection_in_fields", "POST", "/api/leads", """{"firstName": "'; DROP TABLE x; --", "email": "a@b.co' OR '1'='1", "phoneNumber": "\u0000\u0001"}""");
        yield return Case("Huge_field", "POST", "/api/leads", "{\"problemDescription\": \"" + new string('x', 7000) + "\"}");
        yield return Case("Body_over_the_limit", "POST", "/api/leads", "{\"notes\": \"" + new string('x', 20_000) + "\"}");
        yield return Case("Invalid_utf8", "POST", "/api/leads", "{\"firstName\": \"\uFFFD\uD800\"}");
        yield return Case("Text_plain", "POST", "/api/leads", "hello", "text/plain");
        yield return Case("No_content_type", "POST", "/api/leads", "{}", null);
        yield return Case("Form_encoded", "POST", "/api/backup-lead", "formData=1", "application/x-www-form-urlencoded");
        yield return Case("Backup_without_form", "POST", "/api/backup-lead", """{"formData": null}""");
        yield return Case("Bad_idempotency_key", "POST", "/api/leads", "{}", "application/json", ("Idempotency-Key", new string('k', 1000)));
        yield return Case("Unknown_path", "GET", "/api/../../etc/passwd", null, null);
        yield return Case("Wrong_method", "DELETE", "/api/leads", null, null);
        yield return Case("Admin_without_key", "GET", "/api/admin/outbox", null, null);
        yield return Case("Admin_with_wrong_key", "GET", "/api/admin/outbox", null, null, ("X-Api-Key", "wrong-key-0123456789abcdef"));
        yield return Case("Admin_bad_paging", "GET", "/api/admin/outbox?limit=-5&status=nonsense&after=x", null, null, ("X-Api-Key", AdminKey));
        yield return Case("Admin_replay_garbage", "POST", "/api/admin/outbox/replay", "{\"ids\": \"all\"", "application/json", ("X-Api-Key", AdminKey));
        yield return Case("Admin_erase_garbage", "POST", "/api/admin/leads/erase", "[1,2,3]", "application/json", ("X-Api-Key", AdminKey));
        yield return Case("Admin_unknown_lead", "GET", "/api/leads/lead_nothing", null, null, ("X-Api-Key", AdminKey));
    }

    [TestCaseSource(nameof(Fuzz))]
    public async Task Fuzzed_request_answers_without_internals(string method, string path, string? body, string? contentType, (string Name, string Value)[] headers)
    {
        // The admin routes are the admin host's; everything else is sent to the public API.
        var admin = path.StartsWith("/api/admin", StringComparison.Ordinal) || (method == "GET" && path.StartsWith("/api/leads/", StringComparison.Ordinal));
        using var client = admin ? _admin!.CreateApiClient() : _api!.CreateApiClient();
        var (status, text) = await SendAsync(client, method, path, body, contentType, headers);

        Assert.That(status, Is.InRange(400, 499), text);
        AssertNoInternals(text);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
    }

    [TestCase("/api/leads")]
    [TestCase("/api/backup-lead")]
    public async Task A_real_server_error_answers_500_without_internals(string path)
    {
        using var client = _broken!.CreateApiClient();
        var form = System.Text.Json.JsonSerializer.Serialize(TestData.ValidForm(), System.Text.Json.JsonSerializerOptions.Web);
        var body = path == "/api/leads" ? form : "{\"formData\":" + form + "}";

        var (status, text) = await SendAsync(client, "POST", path, body, "application/json", []);

        Assert.That(status, Is.EqualTo(500), text);
        Assert.That(text, Does.Contain("\"status\":500"));
        AssertNoInternals(text);
        // The operator still learns what happened, from the log rather than the answer.
        Assert.That(string.Join("\n", _broken!.Logs.Entries), Does.Contain("42501").Or.Contain("permission denied"));
    }

    [Test]
    public async Task A_real_server_error_on_the_admin_api_answers_without_internals()
    {
        using var client = _brokenAdmin!.CreateApiClient();

        var (status, text) = await SendAsync(client, "GET", "/api/admin/outbox/stats", null, null, [("X-Api-Key", AdminKey)]);

        Assert.That(status, Is.EqualTo(500), text);
        AssertNoInternals(text);
    }

    private static void AssertNoInternals(string text)
    {
        foreach (var needle in Internals)
        {
            Assert.That(text, Does.Not.Contain(needle), $"error body reveals '{needle}': {text}");
        }
    }

    private static async Task<(int Status, string Text)> SendAsync(HttpClient client, string method, string path, string? body, string? contentType, (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            request.Content.Headers.ContentType = contentType is null ? null : MediaTypeHeaderValue.Parse(contentType);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
