using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Hermes.Tests.Api;

namespace Hermes.Tests.Security;

/// <summary>What every API answer says about itself, the limits of the public surface, and admin key rotation.</summary>
public sealed class PublicSurfaceTests : ApiTest
{
    private const string OldKey = "old-admin-key-0123456789abcdef-01";
    private const string NewKey = "new-admin-key-0123456789abcdef-01";

    private HermesAdminFactory? _admin;
    private HttpClient? _adminClient;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Intake:TrustedProxies"] = "127.0.0.1",
        ["Security:MaxRequestHeaderCount"] = "30",
        ["Security:MaxRequestHeadersTotalSize"] = "8192",
    };

    /// <summary>The admin host, for the admin requests (admin API, key rotation); the public API has no admin routes.</summary>
    private HttpClient AdminClient
    {
        get
        {
            _admin ??= new HermesAdminFactory(ConnectionString, $"{OldKey}, {NewKey}");
            return _adminClient ??= _admin.CreateApiClient();
        }
    }

    [OneTimeTearDown]
    public async Task StopAdminAsync()
    {
        _adminClient?.Dispose();
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }
    }

    public static IEnumerable<TestCaseData> Answers()
    {
        yield return new TestCaseData("POST", "/api/leads", "valid", 201).SetName("Headers_on_a_created_lead");
        yield return new TestCaseData("POST", "/api/leads", "{", 400).SetName("Headers_on_a_malformed_body");
        yield return new TestCaseData("POST", "/api/backup-lead", "{}", 400).SetName("Headers_on_an_invalid_backup_lead");
        yield return new TestCaseData("GET", "/nowhere", null, 404).SetName("Headers_on_an_unknown_path");
        yield return new TestCaseData("GET", "/api/leads", null, 405).SetName("Headers_on_a_wrong_method");
        yield return new TestCaseData("GET", "/api/admin/outbox/stats", null, 401).SetName("Headers_on_an_admin_request_without_key");
    }

    [TestCaseSource(nameof(Answers))]
    public async Task Every_answer_carries_the_security_headers_and_no_banner(string method, string path, string? body, int status)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body == "valid" ? ValidBody().ToJsonString() : body, Encoding.UTF8, "application/json");
        }

        using var response = await (path.StartsWith("/api/admin", StringComparison.Ordinal) ? AdminClient : Client).SendAsync(request);

        Assert.That((int)response.StatusCode, Is.EqualTo(status), await response.Content.ReadAsStringAsync());
        Assert.Multiple(() =>
        {
            Assert.That(Header(response, "X-Content-Type-Options"), Is.EqualTo("nosniff"));
            Assert.That(Header(response, "X-Frame-Options"), Is.EqualTo("DENY"));
            Assert.That(Header(response, "Content-Security-Policy"), Is.EqualTo("default-src 'none'; frame-ancestors 'none'"));
            Assert.That(Header(response, "Referrer-Policy"), Is.EqualTo("no-referrer"));
            Assert.That(Header(response, "Server"), Is.Null);
            Assert.That(Header(response, "Strict-Transport-Security"), Is.Null, "no HSTS over plain http");
        });
    }

    [Test]
    public async Task Hsts_is_sent_when_a_trusted_tls_proxy_forwards_https()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: static r =>
        {
            r.Headers.Add("X-Forwarded-For", "203.0.113.9");
            r.Headers.Add("X-Forwarded-Proto", "https");
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(Header(response, "Strict-Transport-Security"), Is.EqualTo("max-age=31536000; includeSubDomains"));
        Assert.That(await ScalarAsync<string>("SELECT host(ip_address) FROM hermes_leads"), Is.EqualTo("203.0.113.9"));
    }

    [Test]
    public async Task Too_many_headers_are_refused_with_431_and_store_nothing()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: static r =>
        {
            for (var i = 0; i < 40; i++)
            {
                r.Headers.Add($"X-Filler-{i}", "x");
            }
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestHeaderFieldsTooLarge));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Oversized_headers_are_refused_with_431_and_store_nothing()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: static r => r.Headers.Add("X-Filler", new string('a', 10_000)));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestHeaderFieldsTooLarge));
        await AssertNothingStoredAsync();
    }

    [TestCase(OldKey)]
    [TestCase(NewKey)]
    public async Task Both_admin_keys_are_accepted_during_a_rotation(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outbox/stats");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);

        using var response = await AdminClient.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [TestCase("old-admin-key-0123456789abcdef-0", TestName = "A_key_one_character_short_is_refused")]
    [TestCase("old-admin-key-0123456789abcdef-012", TestName = "A_key_one_character_long_is_refused")]
    [TestCase("OLD-ADMIN-KEY-0123456789ABCDEF-01", TestName = "A_key_in_other_case_is_refused")]
    [TestCase(OldKey + "," + NewKey, TestName = "The_configured_list_itself_is_refused")]
    public async Task Anything_but_a_configured_key_is_refused(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outbox/stats");
        request.Headers.TryAddWithoutValidation("X-Api-Key", key);

        using var response = await AdminClient.SendAsync(request);

        await ReadProblemAsync(response, 401);
    }

    [Test]
    public async Task A_request_running_past_the_timeout_is_cut_off_and_stores_nothing()
    {
        await using var factory = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["Security:RequestTimeout"] = "00:00:00.300" });
        using var client = factory.CreateApiClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = new SlowContent(Encoding.UTF8.GetBytes(ValidBody().ToJsonString()), TimeSpan.FromSeconds(2)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        HttpResponseMessage? response = null;
        try
        {
            response = await client.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            // The server may close the connection while the client is still sending; then there is no answer to read.
        }

        if (response is not null)
        {
            // 504 when the timeout hits the handler; 499 when it cancels the body read of a client still sending.
            Assert.That((int)response.StatusCode, Is.AnyOf(499, 504), await response.Content.ReadAsStringAsync());
            response.Dispose();
        }

        await AssertNothingStoredAsync();
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : null;

    /// <summary>Sends half the body, waits, then the rest: a slow client.</summary>
    private sealed class SlowContent(byte[] body, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await stream.FlushAsync();
            await Task.Delay(pause);
            await stream.WriteAsync(body.AsMemory(body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
