using System.Net;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Api;

public sealed class ConfigurationTests : DatabaseTest
{
    private static IEnumerable<TestCaseData> BadSettings()
    {
        static TestCaseData Case(string name, string key, params (string Key, string Value)[] settings) =>
            new TestCaseData(settings.ToDictionary(static s => s.Key, static s => (string?)s.Value), key).SetName($"Bad_setting_{name}_stops_the_host_naming_{key.Replace(':', '_')}");

        yield return Case("body_limit", "Intake:MaxBodyBytes", ("Intake:MaxBodyBytes", "10"));
        yield return Case("permit_limit", "Intake:RateLimit:PermitLimit", ("Intake:RateLimit:PermitLimit", "0"));
        yield return Case("window", "Intake:RateLimit:Window", ("Intake:RateLimit:Window", "00:00:00"));
        yield return Case("proxy", "Intake:TrustedProxies", ("Intake:TrustedProxies:0", "proxy.internal"));
        yield return Case("origin_with_path", "Intake:Cors:AllowedOrigins", ("Intake:Cors:AllowedOrigins", "https://www.hermessecurity.io/contact"));
        yield return Case("wildcard_origin", "Intake:Cors:AllowedOrigins", ("Intake:Cors:AllowedOrigins:0", "*"));
        yield return Case("captcha_without_url", "Intake:Captcha:VerifyUrl", ("Intake:Captcha:Enabled", "true"), ("Intake:Captcha:Secret", "s"));
        yield return Case("captcha_without_secret", "Intake:Captcha:Secret", ("Intake:Captcha:Enabled", "true"), ("Intake:Captcha:VerifyUrl", "https://captcha.example/verify"));
        yield return Case("duplicate_urgency", "Intake:ServiceUrgencies", ("Intake:ServiceUrgencies", "soon,soon"));
        yield return Case("retry_after", "Intake:UnavailableRetryAfter", ("Intake:UnavailableRetryAfter", "00:00:00"));
        yield return Case("short_admin_key", "HERMES_ADMIN_API_KEY", ("HERMES_ADMIN_API_KEY", new string('k', 31)));
        yield return Case("short_rotated_admin_key", "HERMES_ADMIN_API_KEY", ("HERMES_ADMIN_API_KEY", new string('k', 40) + "," + new string('n', 20)));
        yield return Case("admin_key_failure_limit", "Admin:KeyFailureLimit", ("HERMES_ADMIN_API_KEY", new string('k', 40)), ("Admin:KeyFailureLimit", "0"));
        yield return Case("admin_key_failure_window", "Admin:KeyFailureWindow", ("HERMES_ADMIN_API_KEY", new string('k', 40)), ("Admin:KeyFailureWindow", "00:00:00"));
        yield return Case("console_sign_in_limit_moved", "Admin:KeyFailureLimit", ("HERMES_ADMIN_API_KEY", new string('k', 40)), ("Console:SignInFailureLimit", "3"));

        // The canary: the public API's secret, and the admin host's settings once Canary:Interval is set.
        var key = ("HERMES_ADMIN_API_KEY", new string('k', 40));
        var secret = ("HERMES_CANARY_SECRET", new string('c', 32));
        var api = ("Canary:ApiUrl", "http://api:8080");
        yield return Case("api_short_canary_secret", "HERMES_CANARY_SECRET", ("HERMES_CANARY_SECRET", new string('c', 31)));
        yield return Case("api_canary_secret_with_spaces", "HERMES_CANARY_SECRET", ("HERMES_CANARY_SECRET", new string('c', 20) + " " + new string('c', 20)));
        yield return Case("canary_negative_interval", "Canary:Interval", key, ("Canary:Interval", "-00:05:00"));
        yield return Case("canary_interval_under_a_second", "Canary:Interval", key, secret, api, ("Canary:Interval", "00:00:00.500"));
        yield return Case("canary_without_api_url", "Canary:ApiUrl", key, secret, ("Canary:Interval", "00:05:00"));
        yield return Case("canary_relative_api_url", "Canary:ApiUrl", key, secret, ("Canary:Interval", "00:05:00"), ("Canary:ApiUrl", "/api/leads"));
        yield return Case("canary_ftp_api_url", "Canary:ApiUrl", key, secret, ("Canary:Interval", "00:05:00"), ("Canary:ApiUrl", "ftp://api:8080"));
        yield return Case("canary_zero_timeout", "Canary:Timeout", key, secret, api, ("Canary:Interval", "00:05:00"), ("Canary:Timeout", "00:00:00"));
        yield return Case("canary_without_secret", "HERMES_CANARY_SECRET", key, api, ("Canary:Interval", "00:05:00"));
        yield return Case("canary_short_secret", "HERMES_CANARY_SECRET", key, api, ("Canary:Interval", "00:05:00"), ("HERMES_CANARY_SECRET", new string('c', 31)));
    }

    [TestCaseSource(nameof(BadSettings))]
    public async Task Bad_setting_stops_the_host_with_a_message_naming_the_key(Dictionary<string, string?> settings, string key)
    {
        // The admin settings are the admin host's; the rest the public API's.
        if (settings.TryGetValue("HERMES_ADMIN_API_KEY", out var adminKeys))
        {
            await using var admin = new HermesAdminFactory(ConnectionString, adminKeys!, settings);
            AssertRefused(admin.StartServer, admin.Logs, key);
            return;
        }

        await using var factory = new HermesApiFactory(ConnectionString, settings);
        AssertRefused(factory.StartServer, factory.Logs, key);
    }

    private static void AssertRefused(Action start, CapturedLogs logs, string key)
    {
        var failure = Assert.Catch(start);

        // The exception carries the message, and so does the host's log. (When start-up fails this fast, the test
        // host sometimes reports only that the host was disposed, so the log is the reliable witness.)
        var messages = string.Join(" | ", Flatten(failure).Concat(logs.Entries));
        Assert.That(messages, Does.Contain(key));
    }

    [Test]
    public async Task Configured_urgencies_and_company_sizes_replace_the_seeds()
    {
        await using var factory = new HermesApiFactory(ConnectionString, new Dictionary<string, string?>
        {
            ["Intake:ServiceUrgencies"] = "not-urgent, asap",
            ["Intake:CompanySizes:0"] = "small",
            ["Intake:CompanySizes:1"] = "large",
        });
        using var client = factory.CreateApiClient();

        using var accepted = await PostAsync(client, "asap", "large");
        using var oldUrgency = await PostAsync(client, "urgent", "large");
        using var oldSize = await PostAsync(client, "asap", "11-50");

        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Created), await accepted.Content.ReadAsStringAsync());
        Assert.That((int)oldUrgency.StatusCode, Is.EqualTo(400));
        Assert.That(await oldUrgency.Content.ReadAsStringAsync(), Does.Contain("serviceUrgency").And.Contain("asap"));
        Assert.That((int)oldSize.StatusCode, Is.EqualTo(400));
        Assert.That(await ScalarAsync<string>("SELECT priority FROM hermes_leads WHERE service_urgency = 'asap'"), Is.EqualTo("medium"));
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string urgency, string size)
    {
        var form = TestData.ValidForm() with { ServiceUrgency = urgency, CompanySize = size };
        return await client.PostAsync(new Uri("/api/leads", UriKind.Relative), System.Net.Http.Json.JsonContent.Create(form));
    }

    private static IEnumerable<string> Flatten(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            yield return e.Message;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
