using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// What n8n answered, as Hermes keeps it: the JSON answer for <c>n8n_response_data</c> (a non-JSON answer, or
/// one longer than the limit, as <c>{"raw": "...", "truncated": bool}</c>), an excerpt for the attempt log,
/// and the Brevo contact id, read from <c>brevoContactId</c>, <c>brevo_contact_id</c>, <c>contactId</c> or
/// <c>id</c> (a string or an integer) of the answer object, or of the first object when n8n answers with a list.
/// </summary>
public sealed record N8nAnswer(string? ResponseData, string? BrevoContactId, string? Excerpt)
{
    /// <summary>The longest excerpt of an answer kept in the attempt log.</summary>
    public const int ExcerptLength = 1024;

    /// <summary>The column <c>brevo_contact_id</c> is VARCHAR(100); a longer value is not an id.</summary>
    public const int MaxContactIdLength = 100;

    public static readonly string[] ContactIdFields = ["brevoContactId", "brevo_contact_id", "contactId", "id"];

    public static N8nAnswer Read(ReadOnlySpan<byte> body, bool truncated)
    {
        var text = Clean(Encoding.UTF8.GetString(body));
        if (string.IsNullOrWhiteSpace(text))
        {
            return new N8nAnswer(null, null, text.Length == 0 ? null : text);
        }

        var excerpt = text.Length > ExcerptLength ? text[..ExcerptLength] : text;
        if (!truncated && TryParse(text, out var node))
        {
            return new N8nAnswer(text, ContactIdOf(node), excerpt);
        }

        var raw = new JsonObject { ["raw"] = text, ["truncated"] = truncated };
        return new N8nAnswer(raw.ToJsonString(), null, excerpt);
    }

    /// <summary>A short, storable excerpt of an error answer.</summary>
    public static string? ExcerptOf(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return null;
        }

        var text = Clean(Encoding.UTF8.GetString(body[..Math.Min(body.Length, ExcerptLength * 4)]));
        return text.Length > ExcerptLength ? text[..ExcerptLength] : text;
    }

    private static bool TryParse(string text, out JsonNode? node)
    {
        node = null;
        // PostgreSQL's jsonb cannot hold a NUL character; such an answer is kept as raw text instead.
        if (text.Contains("\\u0000", StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string? ContactIdOf(JsonNode? node)
    {
        if (node is JsonArray { Count: > 0 } list)
        {
            node = list[0];
        }

        if (node is not JsonObject answer)
        {
            return null;
        }

        foreach (var field in ContactIdFields)
        {
            if (answer[field] is JsonValue value && ValueOf(value) is { } id)
            {
                return id;
            }
        }

        return null;
    }

    private static string? ValueOf(JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                var text = value.GetValue<string>().Trim();
                return text.Length is > 0 and <= MaxContactIdLength ? text : null;
            case JsonValueKind.Number:
                return value.TryGetValue<long>(out var number) ? number.ToString(CultureInfo.InvariantCulture)
                    : value.TryGetValue<decimal>(out var dec) && dec == decimal.Truncate(dec) ? decimal.Truncate(dec).ToString(CultureInfo.InvariantCulture)
                    : null;
            default:
                return null;
        }
    }

    // NUL cannot be stored in a text column; the replacement character marks it instead.
    private static string Clean(string text) => text.Contains('\0', StringComparison.Ordinal) ? text.Replace('\0', '\uFFFD') : text;
}
