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
}
