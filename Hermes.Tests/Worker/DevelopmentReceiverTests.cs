using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Outbox.Worker.Development;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Worker;

/// <summary>
/// The worker's Development stand-in for n8n (<c>POST /dev/n8n</c>) answers webhook contract 2 like the shipped
/// workflow: a contact id to <c>lead.submitted</c>, <c>"erased": true</c> to <c>lead.erased</c>, 422 to an event type it
/// does not know. Over real Kestrel, signed as the worker signs.
/// </summary>
public sealed class DevelopmentReceiverTests
{
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private byte[] _key = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development", Args = ["--urls", "http://127.0.0.1:0"] });
        builder.Logging.ClearProviders();
        builder.AddDevelopmentReceiver();
        builder.Services.Configure<WebhookOptions>(static o => o.Secret = WorkerUnderTest.Secret);
        builder.Services.AddSingleton(TimeProvider.System);
        _app = builder.Build();
        _app.MapDevelopmentReceiver();
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address) };
        Assert.That(WebhookSigner.TryDecodeSecret(WorkerUnderTest.Secret, out _key), Is.True);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonObject Body)> SendAsync(string id, string body)
    {
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, DevelopmentReceiver.Path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSigner.Sign(id, timestamp, Encoding.UTF8.GetBytes(body), [_key]));
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    [Test]
    public async Task It_answers_lead_erased_with_erased_true_for_the_contact()
    {
        var (status, body) = await SendAsync("msg_lead_dev1_erased",
            """{"type":"lead.erased","version":1,"id":"msg_lead_dev1_erased","leadId":"lead_dev1","backupId":7,"brevoContactId":"dev-3","erasedAt":"2026-12-06T10:00:00+00:00"}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body["erased"]!.GetValue<bool>(), Is.True);
        Assert.That(body["brevoContactId"]!.GetValue<string>(), Is.EqualTo("dev-3"));
        Assert.That(body["contract"]!.GetValue<int>(), Is.EqualTo(2));
    }

    [Test]
    public async Task It_still_answers_lead_submitted_with_a_contact_id_and_refuses_an_unknown_event_with_422()
    {
        var (submitted, answer) = await SendAsync("msg_lead_dev2", """{"type":"lead.submitted","version":1,"id":"msg_lead_dev2","leadId":"lead_dev2"}""");
        var (unknown, refusal) = await SendAsync("msg_lead_dev3", """{"type":"lead.merged","version":1,"id":"msg_lead_dev3","leadId":"lead_dev3"}""");

        Assert.That(submitted, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(answer["brevoContactId"]!.GetValue<string>(), Does.StartWith("dev-"));
        Assert.That(answer.ContainsKey("erased"), Is.False);
        Assert.That(unknown, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(refusal["error"]!.GetValue<string>(), Does.Contain("unknown event type lead.merged").And.Contain("webhook contract 2"));
    }
}
