using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Deploy;

/// <summary>deploy/n8n/send-test-delivery.sh, sending to a receiver on loopback; what arrives goes through the verify node.</summary>
public sealed class SendTestDeliveryTests
{
    private const string Secret = "whsec_c2VjcmV0LWZvci10aGUtaGVybWVzLWRlcGxveS10ZXN0cw==";

    private sealed record Received(Dictionary<string, string> Headers, string Body);

    [Test]
    public async Task The_test_delivery_carries_what_the_workflow_checks_and_passes_its_verification()
    {
        ExternalTool.Require("curl", "curl sends the test delivery (apt-get install -y curl).");
        ExternalTool.Require("openssl", "openssl signs the test delivery (apt-get install -y openssl).");
        var received = new ConcurrentQueue<Received>();
        var (app, baseAddress) = await LoopbackServer.StartAsync(app => app.MapPost("/webhook/hermes-lead", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            received.Enqueue(new Received(request.Headers.ToDictionary(static h => h.Key.ToLowerInvariant(), static h => h.Value.ToString()), body));
            return Results.Json(new { brevoContactId = "12345", duplicate = false });
        }));
        await using var _ = app;
        var address = baseAddress.ToString().TrimEnd('/');

        var result = await ExternalTool.RunAsync(
            ExternalTool.Require("bash", "bash runs the script."),
            [RepositoryFiles.PathOf("deploy", "n8n", "send-test-delivery.sh"), address + "/webhook/hermes-lead", "ada@example.com"],
            environment: new Dictionary<string, string?>
            {
                ["HERMES_WEBHOOK_SECRET"] = Secret,
                ["HERMES_N8N_AUTH_HEADER_NAME"] = "X-Hermes-Auth",
                ["HERMES_N8N_AUTH_HEADER_VALUE"] = "header-value",
                ["HERMES_TEST_ID"] = "test_0001",
            });

        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.StandardOutput, Does.Contain("\"brevoContactId\":\"12345\"").And.Contain("HTTP 200"));
        Assert.That(received.TryDequeue(out var delivery), Is.True);
        Assert.That(delivery!.Headers["x-hermes-auth"], Is.EqualTo("header-value"));
        Assert.That(delivery.Headers["webhook-id"], Is.EqualTo("msg_test_0001"));
        var timestamp = long.Parse(delivery.Headers["webhook-timestamp"], CultureInfo.InvariantCulture);
        Assert.That(delivery.Headers["webhook-signature"], Is.EqualTo(N8nCodeNode.Sign(Secret, "msg_test_0001", timestamp, delivery.Body)));

        var verified = N8nCodeNode.SingleItem(await N8nCodeNode.RunAsync(
            N8nCodeNode.VerifySignature,
            N8nCodeNode.Scenario(timestamp, new JsonObject { ["HERMES_WEBHOOK_SECRET"] = Secret }, N8nCodeNode.WebhookItem(delivery.Body, delivery.Headers))));
        Assert.That(verified["verified"]!.GetValue<bool>(), Is.True, verified.ToJsonString());
        Assert.That(verified["payload"]!["lead"]!["email"]!.GetValue<string>(), Is.EqualTo("ada@example.com"));
    }
}
