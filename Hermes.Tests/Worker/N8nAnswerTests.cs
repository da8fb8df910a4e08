using System.Text;
using System.Text.Json.Nodes;
using Hermes.Outbox.Worker.Delivery;

namespace Hermes.Tests.Worker;

public sealed class N8nAnswerTests
{
    [TestCase("""{"brevoContactId": "abc", "id": "other"}""", "abc")]
    [TestCase("""{"brevo_contact_id": 12}""", "12")]
    [TestCase("""{"contactId": 12.0}""", "12")]
    [TestCase("""{"id": 987654321012}""", "987654321012")]
    [TestCase("""[{"id": "first"}, {"id": "second"}]""", "first")]
    [TestCase("""{"brevoContactId": null, "contactId": " 55 "}""", "55")]
    [TestCase("""{"id": 1.5}""", null)]
    [TestCase("""{"id": true}""", null)]
    [TestCase("""{"contact": {"id": 1}}""", null)]
    [TestCase("""{"success": true}""", null)]
    [TestCase("""42""", null)]
    public void Contact_id_is_read_from_the_known_fields(string body, string? expected)
    {
        var answer = N8nAnswer.Read(Encoding.UTF8.GetBytes(body), truncated: false);

        Assert.That(answer.BrevoContactId, Is.EqualTo(expected));
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(answer.ResponseData!), JsonNode.Parse(body)), Is.True, "the JSON answer is kept as it is");
    }

    [Test]
    public void Contact_id_longer_than_its_column_is_not_taken()
    {
        var answer = N8nAnswer.Read(Encoding.UTF8.GetBytes($$"""{"id": "{{new string('x', 101)}}"}"""), truncated: false);

        Assert.That(answer.BrevoContactId, Is.Null);
    }

    [Test]
    public void Json_with_a_nul_escape_is_kept_as_raw_text_because_jsonb_cannot_hold_it()
    {
        var answer = N8nAnswer.Read(Encoding.UTF8.GetBytes("""{"id": "a\u0000b"}"""), truncated: false);

        Assert.That(JsonNode.Parse(answer.ResponseData!)!["raw"]!.GetValue<string>(), Is.EqualTo("""{"id": "a\u0000b"}"""));
        Assert.That(answer.BrevoContactId, Is.Null);
    }

    [Test]
    public void Empty_answer_has_no_data()
    {
        var answer = N8nAnswer.Read([], truncated: false);

        Assert.That(answer, Is.EqualTo(new N8nAnswer(null, null, null, ContactIdProblem.Missing)));
    }

    [Test]
    public void Long_answer_gets_a_short_excerpt()
    {
        var answer = N8nAnswer.Read(Encoding.UTF8.GetBytes(new string('a', 5000)), truncated: false);

        Assert.That(answer.Excerpt, Has.Length.EqualTo(N8nAnswer.ExcerptLength));
        Assert.That(JsonNode.Parse(answer.ResponseData!)!["raw"]!.GetValue<string>(), Has.Length.EqualTo(5000));
    }
    // Accepted by JSON parsers, refused by jsonb (22003, 22P02, 22P05): kept as raw text, the contact id still read.
    [TestCase("""{"brevoContactId": 5, "x": 1e200000}""", "5")]
    [TestCase("""{"brevoContactId": 5, "x": -1e-200000}""", "5")]
    [TestCase("""{"brevoContactId": 6, "x": "\ud800"}""", "6")]
    [TestCase("""{"brevoContactId": 6, "\udc00": 1}""", null)]
    [TestCase("""{"brevoContactId": 7, "x": "a\u0000b"}""", "7")]
    [TestCase("""{"brevoContactId": "\ud800"}""", null)]
    public void Json_that_jsonb_refuses_is_kept_as_raw_text_with_its_contact_id(string body, string? expected)
    {
        var answer = N8nAnswer.Read(Encoding.UTF8.GetBytes(body), truncated: false);

        Assert.That(N8nAnswer.IsJsonbSafe(Encoding.UTF8.GetBytes(body)), Is.False);
        Assert.That(JsonNode.Parse(answer.ResponseData!)!["raw"]!.GetValue<string>(), Is.EqualTo(body));
        Assert.That(answer.BrevoContactId, Is.EqualTo(expected));
    }

    [TestCase("""{"a": 1.5e300, "b": -0.000001, "c": 123456789012345678901234567890, "d": "😀 \ud83d\ude00 \n"}""")]
    [TestCase("""[1, 2, {"x": null}]""")]
    [TestCase("""{"big": 1e400, "small": 1e-400}""")]
    public void Json_that_jsonb_accepts_is_kept_as_it_is(string body)
    {
        Assert.That(N8nAnswer.IsJsonbSafe(Encoding.UTF8.GetBytes(body)), Is.True);
        Assert.That(N8nAnswer.Read(Encoding.UTF8.GetBytes(body), truncated: false).ResponseData, Is.EqualTo(body));
    }

    [Test]
    public void Nesting_deeper_than_the_limit_is_kept_as_raw_text()
    {
        var body = new string('[', 100) + new string(']', 100);

        Assert.That(JsonNode.Parse(N8nAnswer.Read(Encoding.UTF8.GetBytes(body), truncated: false).ResponseData!)!["raw"]!.GetValue<string>(), Is.EqualTo(body));
    }

    [TestCase("""{"brevoContactId": "a b"}""")]
    [TestCase("""{"brevoContactId": "<script>"}""")]
    [TestCase("""{"brevoContactId": "ada@example.com"}""")]
    [TestCase("""{"brevoContactId": "x\ny"}""")]
    [TestCase("""{"id": 1.5}""")]
    public void Contact_id_that_is_not_an_identifier_is_dropped_and_said_so(string body)
    {
        var answer = N8nAnswer.Read(Encoding.UTF8.GetBytes(body), truncated: false);

        Assert.That(answer.BrevoContactId, Is.Null);
        Assert.That(answer.ContactIdProblem, Is.EqualTo(ContactIdProblem.NotAnIdentifier));
    }

    [TestCase(1023)]
    [TestCase(1024)]
    [TestCase(1022)]
    public void Excerpts_end_between_whole_characters(int prefix)
    {
        var body = Encoding.UTF8.GetBytes(new string('a', prefix) + "😀😀 tail");

        var answer = N8nAnswer.Read(body, truncated: false);
        var excerpt = N8nAnswer.ExcerptOf(body)!;

        Assert.That(answer.Excerpt, Has.Length.LessThanOrEqualTo(N8nAnswer.ExcerptLength));
        Assert.That(Hermes.Domain.SafeText.IsStorable(answer.Excerpt!), Is.True);
        Assert.That(excerpt, Is.EqualTo(answer.Excerpt));
    }
}
