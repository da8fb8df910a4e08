using System.Net;
using System.Text.Json.Nodes;
using Hermes.Outbox.Worker.Health;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Observability;

/// <summary>The worker's health endpoints against the real host, a real database and a loopback receiver.</summary>
public sealed class WorkerHealthTests : WorkerTest
{
    [Test]
    public async Task Live_ready_and_n8n_are_healthy_after_a_delivery_and_name_the_environment()
    {
        await using var worker = await ObservedWorker.StartAsync(ConnectionString, Receiver.Url);
        var (_, message) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var (liveStatus, live) = await GetAsync(worker, "/health/live");
        var (readyStatus, ready) = await GetAsync(worker, "/health/ready");
        var (n8nStatus, n8n) = await GetAsync(worker, "/health/n8n");
        Assert.Multiple(() =>
        {
            Assert.That(liveStatus, Is.EqualTo(HttpStatusCode.OK));
            Assert.That((string?)live["environment"], Is.EqualTo("Staging"));
            Assert.That((string?)live["checks"]!["outcome-writer"]!["status"], Is.EqualTo("Healthy"), "liveness says whether outcomes can be written");
            Assert.That((int?)live["checks"]!["outcome-writer"]!["queued"], Is.Zero);
            Assert.That(ready["checks"]!["outcome-writer"], Is.Not.Null);
            Assert.That(readyStatus, Is.EqualTo(HttpStatusCode.OK), ready.ToJsonString());
            Assert.That((bool?)ready["checks"]!["database"]!["reachable"], Is.True);
            Assert.That(n8nStatus, Is.EqualTo(HttpStatusCode.OK), n8n.ToJsonString());
            Assert.That((string?)n8n["environment"], Is.EqualTo("Staging"));
            var check = n8n["checks"]!["n8n"]!;
            Assert.That((string?)check["circuit"], Is.EqualTo("closed"));
            Assert.That((int?)check["consecutiveFailures"], Is.Zero);
            Assert.That((long?)check["pendingCount"], Is.Zero);
            Assert.That(check["lastSuccessAt"]?.GetValue<DateTimeOffset>(), Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromSeconds(30)));
            Assert.That(n8n.ToJsonString(), Does.Not.Contain(Receiver.Url.Host + ":" + Receiver.Url.Port).And.Not.Contain(WorkerUnderTest.Secret).And.Not.Contain("Password"));
        });
    }

    [Test]
    public async Task N8n_is_503_when_the_oldest_pending_row_is_older_than_MaxPendingAge()
    {
        // Written 11 minutes ago and not due for an hour: pending, and too old. Made so before the worker starts, which
        // would otherwise deliver the new row before the UPDATE makes it not due (seen in CI).
        var (_, message) = await InsertLeadAsync();
        await ExecuteAsync("UPDATE hermes_outbox SET created_at = now() - interval '11 minutes', available_at = now() + interval '1 hour' WHERE id = $1", message.Id);
        await using var worker = await ObservedWorker.StartAsync(ConnectionString, Receiver.Url, new Dictionary<string, string?> { ["Health:MaxPendingAge"] = "00:10:00" });

        var (status, n8n) = await GetAsync(worker, "/health/n8n");
        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo(HttpStatusCode.ServiceUnavailable), n8n.ToJsonString());
            Assert.That((long?)n8n["checks"]!["n8n"]!["pendingCount"], Is.EqualTo(1));
            Assert.That((double?)n8n["checks"]!["n8n"]!["oldestPendingAgeSeconds"], Is.InRange(659.0, 720.0));
            Assert.That((string?)n8n["checks"]!["n8n"]!["description"], Does.Contain("Health:MaxPendingAge"));
        });

        await ExecuteAsync("UPDATE hermes_outbox SET created_at = now() - interval '9 minutes' WHERE id = $1", message.Id);
        (status, n8n) = await GetAsync(worker, "/health/n8n");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), n8n.ToJsonString());
    }

    [Test]
    public async Task N8n_is_503_while_the_circuit_is_open_and_ready_stays_200()
    {
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(StatusCodes.Status503ServiceUnavailable, null)(context);
        await using var worker = await ObservedWorker.StartAsync(ConnectionString, Receiver.Url, new Dictionary<string, string?>
        {
            ["Outbox:CircuitBreaker:MinimumThroughput"] = "2",
            ["Outbox:CircuitBreaker:BreakDuration"] = "00:01:00",
        });
        await InsertLeadsAsync(4);
        await WaitUntilAsync(() => Task.FromResult(worker.State.Circuit == Polly.CircuitBreaker.CircuitState.Open), "the circuit opens");

        var (status, n8n) = await GetAsync(worker, "/health/n8n");
        var (readyStatus, _) = await GetAsync(worker, "/health/ready");
        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo(HttpStatusCode.ServiceUnavailable), n8n.ToJsonString());
            Assert.That((string?)n8n["checks"]!["n8n"]!["circuit"], Is.EqualTo("open"));
            Assert.That((int?)n8n["checks"]!["n8n"]!["consecutiveFailures"], Is.GreaterThanOrEqualTo(2));
            Assert.That(n8n["checks"]!["n8n"]!["lastSuccessAt"], Is.Null);
            Assert.That((long?)n8n["checks"]!["n8n"]!["pendingCount"], Is.EqualTo(4));
            Assert.That(readyStatus, Is.EqualTo(HttpStatusCode.OK), "n8n being down does not make the worker unready");
        });
    }

    [Test]
    public void Default_url_is_port_8081_only_when_no_url_is_given()
    {
        var plain = Outbox.Worker.WorkerHost.CreateBuilder([]);
        var given = Outbox.Worker.WorkerHost.CreateBuilder(["--urls", "http://127.0.0.1:9999"]);
        Assert.Multiple(() =>
        {
            Assert.That(plain.WebHost.GetSetting("urls"), Is.EqualTo(WorkerHealthExtensions.DefaultUrl));
            Assert.That(given.WebHost.GetSetting("urls"), Is.EqualTo("http://127.0.0.1:9999"));
        });
    }

    internal static async Task<(HttpStatusCode Status, JsonObject Body)> GetAsync(ObservedWorker worker, string path)
    {
        using var response = await worker.Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }
}
