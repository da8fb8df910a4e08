using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Domain;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>Why a contact id in n8n's answer was not taken.</summary>
public enum ContactIdProblem
{
    None,

    /// <summary>No field the worker reads held an id.</summary>
    Missing,

    /// <summary>A field held something that is not a sane identifier (dropped; the delivery still counts).</summary>
    NotAnIdentifier,
}

/// <summary>
/// What n8n answered, as Hermes keeps it: the JSON answer for <c>n8n_response_data</c>, an excerpt for the attempt log,
/// and the Brevo contact id, read from <c>brevoContactId</c>, <c>brevo_contact_id</c>, <c>contactId</c> or <c>id</c>
/// (a string or an integer) of the answer object, or of the first object when n8n answers with a list.
/// The answer is hostile text: it is kept as JSON only when PostgreSQL's <c>jsonb</c> is sure to accept it as it is —
/// no <c>\u0000</c>, no lone surrogate, no number <c>numeric</c> cannot hold, at most 64 levels deep; any other
/// answer (not JSON, too long, or refused by those rules) is kept as <c>{"raw": "&lt;text&gt;", "truncated": bool}</c>,
/// the text made storable by <see cref="SafeText"/>. A contact id must be 1–100 letters, digits, <c>.</c>, <c>_</c>,
/// <c>:</c> or <c>-</c>; anything else is dropped (<see cref="ContactIdProblem.NotAnIdentifier"/>).
/// </summary>
/// <remarks>
/// <see cref="Erased"/> is true only when the answer object's <c>erased</c> field is the JSON literal <c>true</c>: how
/// n8n confirms a <c>lead.erased</c> message (webhook contract 2). Anything else — no field, <c>"true"</c>, an
/// empty body — confirms nothing.
/// </remarks>
public sealed record N8nAnswer(string? ResponseData, string? BrevoContactId, string? Excerpt, ContactIdProblem ContactIdProblem = ContactIdProblem.None, bool Erased = false)
{
    /// <summary>The longest excerpt of an answer kept in the attempt log.</summary>
    public const int ExcerptLength = 1024;

    /// <summary>The column <c>brevo_contact_id</c> is VARCHAR(100); a longer value is not an id.</summary>
    public const int MaxContactIdLength = 100;

    /// <summary>Nesting deeper than this is kept as raw text.</summary>
    public const int MaxDepth = 64;

    // PostgreSQL's numeric holds up to 131072 digits before the point and 16383 after; far beyond any real answer.
    private const int MaxNumberDigits = 1000;

    public static readonly string[] ContactIdFields = ["brevoContactId", "brevo_contact_id", "contactId", "id"];

    public static N8nAnswer Read(ReadOnlySpan<byte> body, bool truncated)
    {
        var text = SafeText.Storable(Encoding.UTF8.GetString(body));
        if (string.IsNullOrWhiteSpace(text))
        {
            return new N8nAnswer(null, null, text.Length == 0 ? null : text, ContactIdProblem.Missing);
        }

        var excerpt = SafeText.Cut(text, ExcerptLength);
        if (truncated || !TryParse(text, out var node))
        {
            return new N8nAnswer(Raw(text, truncated), null, excerpt, ContactIdProblem.Missing);
        }

        // JSON that jsonb would refuse still names its contact id; only the stored form changes.
        var (id, problem) = SafeContactIdOf(node);
        return new N8nAnswer(IsJsonbSafe(body) ? text : Raw(text, truncated), id, excerpt, problem, SafeErasedOf(node));
    }

    /// <summary>A short, storable excerpt of an error answer.</summary>
    public static string? ExcerptOf(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return null;
        }

        return SafeText.Clean(Encoding.UTF8.GetString(body[..Math.Min(body.Length, ExcerptLength * 4)]), ExcerptLength);
    }

    /// <summary>True when <c>jsonb</c> accepts <paramref name="json"/> as it is (see the class summary); false for anything else, including invalid JSON.</summary>
    public static bool IsJsonbSafe(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.String or JsonTokenType.PropertyName:
                        // Unescaping throws on a lone surrogate escape; \u0000 unescapes to a NUL.
                        if (reader.ValueIsEscaped && !SafeText.IsStorable(reader.GetString()))
                        {
                            return false;
                        }

                        break;
                    case JsonTokenType.Number:
                        if (!IsNumericSafe(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan))
                        {
                            return false;
                        }

                        break;
                }
            }

            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>A JSON number whose magnitude and digits PostgreSQL's <c>numeric</c> holds (with a wide margin).</summary>
    private static bool IsNumericSafe(ReadOnlySpan<byte> number)
    {
        var e = number.IndexOfAny((byte)'e', (byte)'E');
        var mantissa = e < 0 ? number : number[..e];
        long exponent = 0;
        if (e >= 0 && !long.TryParse(number[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent))
        {
            return false;
        }

        var point = mantissa.IndexOf((byte)'.');
        var integerDigits = (point < 0 ? mantissa.Length : point) - (mantissa.Length > 0 && mantissa[0] == '-' ? 1 : 0);
        var fractionDigits = point < 0 ? 0 : mantissa.Length - point - 1;
        return integerDigits + fractionDigits <= MaxNumberDigits
            && exponent is >= -MaxNumberDigits and <= MaxNumberDigits
            && integerDigits + exponent <= MaxNumberDigits
            && fractionDigits - exponent <= MaxNumberDigits;
    }

    private static string Raw(string text, bool truncated) => new JsonObject { ["raw"] = text, ["truncated"] = truncated }.ToJsonString();

    private static bool TryParse(string text, out JsonNode? node)
    {
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth });
            return true;
        }
        catch (JsonException)
        {
            node = null;
            return false;
        }
    }

    private static bool SafeErasedOf(JsonNode? node)
    {
        try
        {
            return node is JsonObject answer && answer.TryGetPropertyValue("erased", out var flag) && flag?.GetValueKind() == JsonValueKind.True;
        }
        catch (InvalidOperationException)
        {
            // A property name holding a lone surrogate escape cannot be read: such an answer confirms nothing.
            return false;
        }
    }

    private static (string? Id, ContactIdProblem Problem) SafeContactIdOf(JsonNode? node)
    {
        try
        {
            return ContactIdOf(node);
        }
        catch (InvalidOperationException)
        {
            // A property name holding a lone surrogate escape cannot be read: the object has no readable id.
            return (null, ContactIdProblem.NotAnIdentifier);
        }
    }

    private static (string? Id, ContactIdProblem Problem) ContactIdOf(JsonNode? node)
    {
        if (node is JsonArray { Count: > 0 } list)
        {
            node = list[0];
        }

        if (node is not JsonObject answer)
        {
            return (null, ContactIdProblem.Missing);
        }

        var problem = ContactIdProblem.Missing;
        foreach (var field in ContactIdFields)
        {
            if (answer[field] is not JsonValue value)
            {
                continue;
            }

            if (TryValueOf(value) is { } id)
            {
                return (id, ContactIdProblem.None);
            }

            problem = ContactIdProblem.NotAnIdentifier;
        }

        return (null, problem);
    }

    private static string? TryValueOf(JsonValue value)
    {
        try
        {
            return ValueOf(value);
        }
        catch (InvalidOperationException)
        {
            // A string holding a lone surrogate escape cannot even be read as text.
            return null;
        }
    }

    private static string? ValueOf(JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                var text = value.GetValue<string>().Trim();
                return IsIdentifier(text) ? text : null;
            case JsonValueKind.Number:
                return value.TryGetValue<long>(out var number) ? number.ToString(CultureInfo.InvariantCulture)
                    : value.TryGetValue<decimal>(out var dec) && dec == decimal.Truncate(dec) ? decimal.Truncate(dec).ToString(CultureInfo.InvariantCulture)
                    : null;
            default:
                return null;
        }
    }

    /// <summary>1–100 ASCII letters, digits, <c>.</c>, <c>_</c>, <c>:</c>, <c>-</c>: what an id of Brevo (an integer) or of a CRM looks like.</summary>
    internal static bool IsIdentifier(string text) =>
        text.Length is > 0 and <= MaxContactIdLength && text.All(static c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');
}
