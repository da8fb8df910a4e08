using System.Net;
using System.Text.Json.Nodes;

namespace Hermes.Tests.Api;

public sealed class OpenApiTests : ApiTest
{
    [TestCase("/api/leads", "LeadForm", "LeadAccepted")]
    [TestCase("/api/backup-lead", "BackupLeadRequest", "BackupLeadResponse")]
    public async Task OpenApi_document_describes_the_endpoint_and_its_errors(string path, string requestSchema, string responseSchema)
    {
        using var response = await Client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var document = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var post = document["paths"]?[path]?["post"];
        Assert.That(post, Is.Not.Null, $"{path} is documented");
        var responses = post!["responses"]!.AsObject().Select(static r => r.Key);
        Assert.Multiple(() =>
        {
            Assert.That(responses, Is.SupersetOf(new[] { "201", "400", "413", "415", "422", "429", "503" }));
            Assert.That(post["requestBody"]?["content"]?["application/json"]?["schema"]?.ToJsonString(), Does.Contain(requestSchema));
            Assert.That(post["responses"]?["201"]?["content"]?["application/json"]?["schema"]?.ToJsonString(), Does.Contain(responseSchema));
            Assert.That(post["responses"]?["503"]?["content"]?.AsObject().Select(static c => c.Key), Does.Contain("application/problem+json"));
            Assert.That(post["parameters"]?.AsArray().Select(static p => (string?)p?["name"]), Does.Contain("Idempotency-Key"));
            Assert.That(document["components"]?["schemas"]?[requestSchema], Is.Not.Null);
        });
    }

    [Test]
    public async Task The_public_document_describes_only_the_public_routes()
    {
        var document = JsonNode.Parse(await Client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)))!;
        var paths = document["paths"]!.AsObject().Select(static p => p.Key).ToList();

        Assert.That(paths, Does.Contain("/api/leads").And.Contain("/api/backup-lead"));
        Assert.That(paths, Has.None.StartsWith("/api/admin").And.None.StartsWith("/console"), "the admin API is another program's");
    }
}
