using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.OperatorConsole;

namespace Hermes.Tests.Api;

/// <summary>
/// The trimmed, self-contained API the image runs, as a process: what trimming could break is what reflection reaches —
/// JSON binding and problem details, configuration binding, EF Core's transaction and queries (the Idempotency-Key
/// lookup), ICU (NFC) and the OpenAPI document generated from the endpoints. Each is used here and checked against
/// what the database stored.
/// </summary>
public sealed class PublishedApiTests : DatabaseTest
{
    [Test]
    public async Task The_published_api_stores_leads_replays_by_key_rejects_as_problem_details_and_answers_its_probes()
    {
        await using var api = await StartAsync();
        using var client = ConsoleHttp.Client(await api.WaitListeningAsync(TimeSpan.FromSeconds(60)));
        client.Timeout = TimeSpan.FromSeconds(30);

        var form = TestData.ValidForm("published@example.com") with { FirstName = "Zoe\u0308" };
        var first = await PostAsync(client, form, "published-key-1");
        var replay = await PostAsync(client, form, "published-key-1");
        using var invalid = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm() with { Email = "not an address" });
        using var ready = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var document = JsonNode.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        Assert.Multiple(async () =>
        {
            Assert.That(first.Status, Is.EqualTo(HttpStatusCode.Created));
            Assert.That(replay.Status, Is.Not.EqualTo(HttpStatusCode.UnprocessableEntity), "the same key and body is a replay");
            Assert.That(replay.Replayed, Is.True);
            Assert.That(replay.LeadId, Is.EqualTo(first.LeadId), "the replay answers with the stored lead");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE email = 'published@example.com'"), Is.EqualTo(1));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.email = 'published@example.com'"), Is.EqualTo(1));
            Assert.That(await ScalarAsync<string>("SELECT first_name FROM hermes_leads WHERE email = 'published@example.com'"), Is.EqualTo("Zo\u00eb"), "stored in NFC (ICU)");
            Assert.That(invalid.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest).Or.EqualTo(HttpStatusCode.UnprocessableEntity));
            Assert.That(invalid.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            Assert.That(await invalid.Content.ReadAsStringAsync(), Does.Contain("email"));
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), await ready.Content.ReadAsStringAsync());
            Assert.That(metrics, Does.Contain("hermes_"));
            Assert.That(document?["paths"]?["/api/leads"]?["post"]?["responses"]?["201"], Is.Not.Null, "the document is generated from the endpoints");
            Assert.That(api.Output, Does.Not.Contain("Unhandled exception").And.Not.Contain("MissingMethodException"));
        });
    }

    private async Task<ChildProcess> StartAsync()
    {
        var executable = await PublishedApi.RequireAsync();
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Hermes"] = ConnectionString,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        return ChildProcess.Start("published-api", executable, environment);
    }

    private static async Task<(HttpStatusCode Status, string LeadId, bool Replayed)> PostAsync(HttpClient client, object form, string? idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(form) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.LessThan(300), body);
        var leadId = JsonDocument.Parse(body).RootElement.GetProperty("leadId").GetString()!;
        return (response.StatusCode, leadId, response.Headers.TryGetValues("Idempotent-Replayed", out var replayed) && replayed.Contains("true"));
    }
}
