using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Tests.Deploy;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.Extensions.DependencyInjection;

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

    /// <summary>
    /// The public API (no admin key, not Development) serves a snapshot of its document rather than generating it:
    /// the generator's registration alone costs it several MiB resident (bench/RESULTS.md). This is what keeps the
    /// snapshot true: Development generates the document from the endpoints, and the two must be the same.
    /// </summary>
    [Test]
    public async Task The_public_document_is_a_true_snapshot_of_what_the_endpoints_describe()
    {
        await using var development = new HermesApiFactory(ConnectionString, environment: "Development");
        using var developmentClient = development.CreateApiClient();
        var generated = JsonNode.Parse(await developmentClient.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)))!;
        using var response = await Client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        var served = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        var snapshot = RepositoryFiles.PathOf("Hermes.Api", "OpenApi", "public-v1.json");
        if (Environment.GetEnvironmentVariable("HERMES_UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(snapshot, generated.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
        }

        Assert.Multiple(() =>
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
            Assert.That(JsonNode.DeepEquals(served, generated), Is.True,
                "the public API's OpenAPI snapshot is stale: HERMES_UPDATE_OPENAPI=1 dotnet test --filter OpenApiTests rewrites it");
            Assert.That(Factory.Services.GetService<IApiDescriptionGroupCollectionProvider>(), Is.Null, "the public API registers no generator");
            Assert.That(development.Services.GetService<IApiDescriptionGroupCollectionProvider>(), Is.Not.Null);
        });
    }
}
