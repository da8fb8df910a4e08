using System.Net.Http.Json;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Api;

/// <summary>
/// <c>POST /api/leads</c> with the <c>Hermes-Canary</c> header, against the real API and database: only the API's own
/// secret makes a canary; a wrong one, or any when the API has none, is answered 403 before the body is read, and
/// nothing is stored.
/// </summary>
public sealed class CanaryIntakeTests : Operations.OperationsTest
{
    private const string Secret = "canary-intake-secret-0123456789abcdef";

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string? canarySecret, string email = "ada@example.com")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(TestData.ValidForm(email)) };
        if (canarySecret is not null)
        {
            request.Headers.Add("Hermes-Canary", canarySecret);
        }

        return await client.SendAsync(request);
    }

    [TestCase("not-the-secret")]
    [TestCase(Secret + "x")]
    public async Task A_wrong_canary_secret_is_refused_with_403_and_nothing_is_stored(string wrong)
    {
        await using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["HERMES_CANARY_SECRET"] = Secret });
        using var client = api.CreateApiClient();

        using var refused = await PostAsync(client, wrong);

        Assert.That((int)refused.StatusCode, Is.EqualTo(403));
        Assert.That(refused.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(await refused.Content.ReadAsStringAsync(), Does.Contain("nothing was stored").And.Not.Contain(Secret));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.Zero);
    }

    [Test]
    public async Task An_API_without_a_canary_secret_refuses_every_canary_and_stores_ordinary_leads()
    {
        await using var api = new HermesApiFactory(ConnectionString);
        using var client = api.CreateApiClient();

        using var refused = await PostAsync(client, Secret);
        using var ordinary = await PostAsync(client, null);

        Assert.That((int)refused.StatusCode, Is.EqualTo(403));
        Assert.That((int)ordinary.StatusCode, Is.EqualTo(201));
        Assert.That(await ScalarAsync<string>("SELECT string_agg(email || ':' || is_canary, ',') FROM hermes_leads"), Is.EqualTo("ada@example.com:false"));
    }

    [Test]
    public async Task The_right_secret_stores_a_canary_whose_frozen_payload_says_so()
    {
        await using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["HERMES_CANARY_SECRET"] = Secret });
        using var client = api.CreateApiClient();

        using var accepted = await PostAsync(client, Secret, "canary@example.com");

        Assert.That((int)accepted.StatusCode, Is.EqualTo(201), await accepted.Content.ReadAsStringAsync());
        Assert.That(await ScalarAsync<bool>("SELECT is_canary FROM hermes_leads"), Is.True);
        Assert.That(await ScalarAsync<bool>("SELECT (payload->>'canary')::boolean FROM hermes_outbox"), Is.True);
    }
}
