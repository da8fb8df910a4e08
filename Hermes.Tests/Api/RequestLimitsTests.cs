using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Hermes.Tests.Api;

public sealed class RequestLimitsTests : ApiTest
{
    private const int Limit = 4096;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Intake:MaxBodyBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    [Test]
    public async Task Body_up_to_the_configured_limit_is_accepted()
    {
        var body = BodyOfSize(Limit);

        using var response = await PostRawAsync("/api/leads", body, "application/json");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Body_above_the_configured_limit_is_413()
    {
        using var response = await PostRawAsync("/api/leads", BodyOfSize(Limit + 1), "application/json");

        var problem = await ReadProblemAsync(response, 413);
        Assert.That((string?)problem["detail"], Does.Contain("4096 bytes"));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Chunked_body_above_the_limit_is_413()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = new ChunkedContent(Encoding.UTF8.GetBytes(BodyOfSize(Limit * 4))) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await Client.SendAsync(request);

        Assert.That(request.Headers.TransferEncodingChunked, Is.True);
        await ReadProblemAsync(response, 413);
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Chunked_body_within_the_limit_is_accepted()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/backup-lead")
        {
            Content = new ChunkedContent(Encoding.UTF8.GetBytes("{\"formData\":" + ValidBody().ToJsonString() + "}")),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await Client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    [TestCase("text/plain", TestName = "Text_plain_is_415")]
    [TestCase("application/x-www-form-urlencoded", TestName = "Form_urlencoded_is_415")]
    [TestCase("multipart/form-data; boundary=x", TestName = "Multipart_is_415")]
    [TestCase("application/xml", TestName = "Xml_is_415")]
    [TestCase("application/json; charset=iso-8859-1", TestName = "Json_in_latin1_is_415")]
    [TestCase(null, TestName = "Missing_content_type_is_415")]
    public async Task Not_json_is_415_and_stores_nothing(string? contentType)
    {
        using var response = await PostRawAsync("/api/leads", ValidBody().ToJsonString(), contentType);

        await ReadProblemAsync(response, 415);
        await AssertNothingStoredAsync();
    }

    [TestCase("application/json; charset=utf-8")]
    [TestCase("Application/JSON")]
    public async Task Json_content_types_are_accepted(string contentType)
    {
        using var response = await PostRawAsync("/api/leads", ValidBody().ToJsonString(), contentType);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
    }

    [Test]
    public async Task Other_methods_get_a_405_problem()
    {
        using var response = await Client.GetAsync(new Uri("/api/leads", UriKind.Relative));

        await ReadProblemAsync(response, 405);
    }

    [Test]
    public async Task Unknown_paths_get_a_404_problem()
    {
        using var response = await PostRawAsync("/api/lead", ValidBody().ToJsonString(), "application/json");

        await ReadProblemAsync(response, 404);
        await AssertNothingStoredAsync();
    }

    /// <summary>A valid submission padded (in the problem description) to exactly <paramref name="bytes"/> bytes of UTF-8.</summary>
    private static string BodyOfSize(int bytes)
    {
        var body = ValidBody();
        body["problemDescription"] = "";
        var padding = bytes - Encoding.UTF8.GetByteCount(body.ToJsonString());
        body["problemDescription"] = new string('x', padding);
        var json = body.ToJsonString();
        Assert.That(Encoding.UTF8.GetByteCount(json), Is.EqualTo(bytes));
        return json;
    }

    /// <summary>Content of unknown length, so the client sends it chunked, without Content-Length.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var offset = 0; offset < bytes.Length; offset += 1000)
            {
                await stream.WriteAsync(bytes.AsMemory(offset, Math.Min(1000, bytes.Length - offset)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
