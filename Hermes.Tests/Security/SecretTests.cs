using System.Security.Cryptography;
using System.Text;
using Hermes.Cli;
using Hermes.Outbox.Worker;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Tests.Api;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Tests.Security;

/// <summary>Webhook secret rotation, secrets kept out of logs, errors and help, and https to n8n in Production.</summary>
public sealed class SecretTests : WorkerTest
{
    // Two secrets in the Standard Webhooks form: the old one and its successor during a rotation.
    private static readonly string OldSecret = "whsec_" + Convert.ToBase64String(Enumerable.Range(1, 32).Select(static i => (byte)i).ToArray());
    private static readonly string NewSecret = "whsec_" + Convert.ToBase64String(Enumerable.Range(101, 32).Select(static i => (byte)i).ToArray());
    private const string DatabasePassword = "db-pass-Zq8v1Xw7Kc3";
    private const string AdminKey = "admin-key-Hx7Pq2Lm9Vb4Tn6R-Wc3Jd8Ks";

    [Test]
    public async Task During_a_rotation_each_signature_verifies_with_its_own_secret()
    {
        var (_, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["HERMES_WEBHOOK_SECRET"] = $"{OldSecret} {NewSecret}" });

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var request = Receiver.Requests.Single();
        var signatures = request.Header("webhook-signature")!.Split(' ');
        var signed = $"{request.WebhookId}.{request.Header("webhook-timestamp")}.{request.Body}";
        Assert.That(signatures, Has.Length.EqualTo(2));
        Assert.Multiple(() =>
        {
            Assert.That(signatures[0], Is.EqualTo(Signature(OldSecret, signed)), "the old secret's signature");
            Assert.That(signatures[1], Is.EqualTo(Signature(NewSecret, signed)), "the new secret's signature");
            Assert.That(signatures[0], Is.Not.EqualTo(Signature(NewSecret, signed)));
        });
    }

    [Test]
    public async Task Secrets_never_appear_in_the_worker_log()
    {
        var (_, message) = await InsertLeadAsync();
        Receiver.Behaviour = static (request, context) => WebhookReceiver.Json(request.Index == 0 ? 500 : 200, "{}")(context);
        var connection = new NpgsqlConnectionStringBuilder(ConnectionString) { Password = DatabasePassword }.ConnectionString;
        await using (var worker = await WorkerUnderTest.StartAsync(connection, Receiver.Url, new Dictionary<string, string?>
        {
            ["HERMES_WEBHOOK_SECRET"] = $"{OldSecret} {NewSecret}",
            ["Webhook:AuthHeaderName"] = "X-Hermes-Key",
            ["Webhook:AuthHeaderValue"] = AdminKey,
        }))
        {
            await WaitForOutboxStatusAsync(message.Id, "delivered");
            await worker.StopAsync();
            var log = string.Join("\n", worker.Log.Select(static e => e.Message));
            Assert.That(log, Is.Not.Empty, "the worker logged at Debug level");
            AssertAbsent(log);
        }
    }

    [Test]
    public async Task A_worker_refused_for_a_bad_secret_does_not_echo_it()
    {
        const string Leaky = "whsec_thisIsNotBase64!!-but-a-real-looking-secret";
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartWorkerAsync(new Dictionary<string, string?> { ["HERMES_WEBHOOK_SECRET"] = $"{OldSecret} {Leaky}" }));

        Assert.That(error!.Message, Does.Contain("HERMES_WEBHOOK_SECRET (secret 2)"));
        Assert.That(error.Message, Does.Not.Contain(Leaky).And.Not.Contain(OldSecret));
    }

    [Test]
    public async Task Secrets_never_appear_in_cli_help()
    {
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = TestPostgresUrlWithPassword(),
            ["HERMES_WEBHOOK_SECRET"] = OldSecret,
            ["HERMES_ADMIN_API_KEY"] = AdminKey,
        };
        string[][] invocations = [["--help"], ["help"], .. CliVerbs.Select(static v => new[] { v, "--help" })];
        foreach (var args in invocations)
        {
            using var output = new StringWriter();
            using var error = new StringWriter();
            var exit = await OperatorCli.RunAsync(args, output, error, settings, CancellationToken.None);
            Assert.That(exit, Is.Zero, string.Join(' ', args));
            AssertAbsent(output + "\n" + error);
        }
    }

    [Test]
    public async Task Secrets_never_appear_in_cli_errors()
    {
        // A database that refuses: the message names the server, never the password.
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = $"postgres://hermes:{DatabasePassword}@127.0.0.1:1/hermes?connect_timeout=2",
            ["HERMES_WEBHOOK_SECRET"] = OldSecret,
        };
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await OperatorCli.RunAsync(["stats"], output, error, settings, CancellationToken.None);

        Assert.That(exit, Is.Not.Zero);
        Assert.That(error.ToString(), Does.Contain("127.0.0.1"));
        AssertAbsent(output + "\n" + error);
    }

    [Test]
    public async Task Secrets_never_appear_in_the_admin_host_log_or_answers()
    {
        var connection = new NpgsqlConnectionStringBuilder(ConnectionString) { Password = DatabasePassword }.ConnectionString;
        await using var api = new HermesAdminFactory(connection, AdminKey, new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Debug" });
        using var client = api.CreateApiClient();
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outbox/stats");
        wrong.Headers.Add("X-Api-Key", AdminKey[..^1]);

        using var rejected = await client.SendAsync(wrong);
        var answer = await rejected.Content.ReadAsStringAsync();

        Assert.That((int)rejected.StatusCode, Is.EqualTo(401));
        AssertAbsent(answer + "\n" + string.Join("\n", api.Logs.Entries));
        Assert.That(answer + string.Join("\n", api.Logs.Entries), Does.Not.Contain(AdminKey[..^1]));
    }

    [TestCase("Production", "http://n8n.example.com/webhook/hermes", null, false, TestName = "Production_refuses_plain_http_to_n8n")]
    [TestCase("Production", "http://n8n.example.com/webhook/hermes", "true", true, TestName = "Production_allows_plain_http_when_explicitly_allowed")]
    [TestCase("Production", "https://n8n.example.com/webhook/hermes", null, true, TestName = "Production_accepts_https")]
    [TestCase("Production", "http://127.0.0.1:5678/webhook/hermes", null, true, TestName = "Production_accepts_plain_http_to_loopback")]
    [TestCase("Development", "http://n8n:5678/webhook/hermes", null, true, TestName = "Development_accepts_plain_http")]
    public async Task Webhook_url_must_be_https_in_production(string environment, string url, string? allow, bool starts)
    {
        var builder = WorkerHost.CreateBuilder(["--urls", "http://127.0.0.1:0", "--environment", environment]);
        var settings = WorkerUnderTest.DefaultSettings(ConnectionString, new Uri(url), "https-check");
        settings["Webhook:AllowInsecureHttp"] = allow;
        settings["Outbox:PollInterval"] = "00:10:00";
        settings["Retention:Enabled"] = "false";
        builder.Configuration.AddInMemoryCollection(settings);
        await using var app = builder.Build();

        if (starts)
        {
            await app.StartAsync();
            await app.StopAsync();
            return;
        }

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.That(error!.Message, Does.Contain("N8N_WEBHOOK_URL").And.Contain("Webhook:AllowInsecureHttp").And.Contain("https"));
    }

    [Test]
    public async Task Sslmode_require_against_a_server_without_tls_fails_instead_of_downgrading()
    {
        var url = TestPostgresUrl() + "?sslmode=require";
        await using var dataSource = NpgsqlDataSource.Create(Hermes.Persistence.DatabaseUrl.Parse(url).ConnectionString);

        var error = await Assert.ThrowsAsync(Is.InstanceOf<Exception>(), async () => await dataSource.OpenConnectionAsync());

        Assert.That(error!.ToString(), Does.Contain("SSL").IgnoreCase, "the error says TLS was required and not offered");
        using var output = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await OperatorCli.RunAsync(["stats"], output, stderr, new Dictionary<string, string?> { ["DATABASE_URL"] = url }, CancellationToken.None);
        Assert.That(exit, Is.Not.Zero, output.ToString());
        Assert.That(stderr.ToString(), Does.Contain("SSL").IgnoreCase);
    }

    [Test]
    public async Task Sslmode_disable_connects_to_the_same_server()
    {
        await using var dataSource = NpgsqlDataSource.Create(Hermes.Persistence.DatabaseUrl.Parse(TestPostgresUrl() + "?sslmode=disable").ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.That(connection.State, Is.EqualTo(System.Data.ConnectionState.Open));
    }

    private static readonly string[] CliVerbs = ["migrate", "replay", "purge", "doctor", "erase", "seed", "stats"];

    private string TestPostgresUrl() => Hermes.Tests.Infrastructure.TestPostgres.UrlFor(ConnectionString);

    private string TestPostgresUrlWithPassword() =>
        Hermes.Tests.Infrastructure.TestPostgres.UrlFor(new NpgsqlConnectionStringBuilder(ConnectionString) { Password = DatabasePassword }.ConnectionString);

    private static void AssertAbsent(string text)
    {
        foreach (var secret in new[] { OldSecret, OldSecret["whsec_".Length..], NewSecret, NewSecret["whsec_".Length..], DatabasePassword, AdminKey })
        {
            Assert.That(text, Does.Not.Contain(secret), "a secret leaked");
        }
    }

    private static string Signature(string secret, string signed)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(signed)));
    }
}
