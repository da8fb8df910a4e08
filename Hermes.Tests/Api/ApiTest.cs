using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Api;

/// <summary>A test class with its own database and one API host over it.</summary>
public abstract class ApiTest : DatabaseTest, IAsyncDisposable
{
    private HermesApiFactory? _factory;

    protected HttpClient Client { get; private set; } = null!;

    protected HermesApiFactory Factory => _factory ?? throw new InvalidOperationException("No API yet.");

    /// <summary>Settings of this class's API host, on top of the defaults of <see cref="HermesApiFactory"/>.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    [OneTimeSetUp]
    public async Task StartApiAsync()
    {
        await BeforeApiStartsAsync();
        _factory = new HermesApiFactory(ConnectionString, Settings) { Clock = Clock };
        Client = _factory.CreateApiClient();
    }

    /// <summary>The host's clock, when this class moves time itself (null: the system clock).</summary>
    protected virtual TimeProvider? Clock => null;

    /// <summary>Runs before the API host starts, e.g. to start a fake service its settings point at.</summary>
    protected virtual Task BeforeApiStartsAsync() => Task.CompletedTask;

    [OneTimeTearDown]
    public async Task StopApiAsync()
    {
        Client?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
            _factory = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopApiAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Each test starts from empty tables.</summary>
    [SetUp]
    public Task EmptyTablesAsync() => EmptyLeadTablesAsync();

    /// <summary>A valid form as the website sends it, as a mutable JSON object.</summary>
    protected static JsonObject ValidBody() =>
        JsonSerializer.SerializeToNode(TestData.ValidForm(), JsonSerializerOptions.Web)!.AsObject();

    protected Task<HttpResponseMessage> PostJsonAsync(string path, JsonNode? body, string? idempotencyKey = null, Action<HttpRequestMessage>? configure = null) =>
        PostRawAsync(path, body?.ToJsonString() ?? "null", "application/json", idempotencyKey, configure);

    protected async Task<HttpResponseMessage> PostRawAsync(string path, string body, string? contentType, string? idempotencyKey = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = contentType is null ? null : MediaTypeHeaderValue.Parse(contentType);
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }

        configure?.Invoke(request);
        return await Client.SendAsync(request);
    }

    protected static async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

    /// <summary>Reads a problem detail and checks what every error answer must be: problem JSON, no internals.</summary>
    protected static async Task<JsonObject> ReadProblemAsync(HttpResponseMessage response, int status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.Multiple(() =>
        {
            Assert.That((int)response.StatusCode, Is.EqualTo(status), text);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
            Assert.That(text, Does.Not.Contain("   at ").And.Not.Contain("Exception").And.Not.Contain("INSERT").And.Not.Contain("SELECT"), "no internals in an error body");
        });
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.That((int?)problem["status"], Is.EqualTo(status), text);
        return problem;
    }

    protected Task<long> LeadCountAsync() => ScalarAsync<long>("SELECT count(*) FROM hermes_leads");

    protected Task<long> OutboxCountAsync() => ScalarAsync<long>("SELECT count(*) FROM hermes_outbox");

    protected async Task AssertNothingStoredAsync()
    {
        Assert.That(await LeadCountAsync(), Is.Zero, "leads");
        Assert.That(await OutboxCountAsync(), Is.Zero, "outbox rows");
    }
}
