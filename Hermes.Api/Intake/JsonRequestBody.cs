using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Net.Http.Headers;

namespace Hermes.Api.Intake;

/// <summary>Why a body was refused, as the endpoint reports it.</summary>
internal enum BodyProblem
{
    None,
    UnsupportedMediaType,
    TooLarge,
    Malformed,
    WrongTypes,
}

/// <summary>The body read as <typeparamref name="T"/>, or why it could not be.</summary>
internal sealed record BodyReadResult<T>(T? Value, BodyProblem Problem, string? Detail, IReadOnlyDictionary<string, string[]>? Errors)
    where T : class;

/// <summary>
/// Reads a JSON request body strictly and without ever throwing for bad input: a media type other than JSON in
/// UTF-8 is 415, more than the limit is 413 (checked against <c>Content-Length</c> first, then while reading a
/// chunked body), invalid JSON is 400, and a value of the wrong type is 400 naming its field. Unknown fields are
/// ignored. The body is read here rather than by parameter binding so that every one of these is a problem
/// detail written by Hermes, and none of the messages echo what the client sent.
/// </summary>
internal static class JsonRequestBody
{
    public static async Task<BodyReadResult<T>> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, long maxBytes, CancellationToken cancellationToken)
        where T : class
    {
        if (!IsJsonInUtf8(request.ContentType))
        {
            return new(null, BodyProblem.UnsupportedMediaType, "Send the submission as JSON: Content-Type: application/json (UTF-8).", null);
        }

        if (request.ContentLength > maxBytes)
        {
            return TooLarge<T>(maxBytes);
        }

        var reader = request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken);
            if (read.Buffer.Length > maxBytes)
            {
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                return TooLarge<T>(maxBytes);
            }

            if (read.IsCompleted || read.IsCanceled)
            {
                try
                {
                    return Parse(read.Buffer, typeInfo);
                }
                finally
                {
                    reader.AdvanceTo(read.Buffer.End);
                }
            }

            // Not complete yet: keep everything and ask for more.
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    private static BodyReadResult<T> TooLarge<T>(long maxBytes)
        where T : class =>
        new(null, BodyProblem.TooLarge, $"The request body must be at most {maxBytes} bytes.", null);

    private static bool IsJsonInUtf8(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
        {
            return false;
        }

        var json = mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.Type.Equals("application", StringComparison.OrdinalIgnoreCase) && mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
        var charset = mediaType.Charset;
        return json && (!charset.HasValue || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase));
    }

    private static BodyReadResult<T> Parse<T>(ReadOnlySequence<byte> body, JsonTypeInfo<T> typeInfo)
        where T : class
    {
        if (body.IsEmpty)
        {
            return new(null, BodyProblem.Malformed, "The request body is empty; send the submission as a JSON object.", null);
        }

        // First the syntax, so that a broken document is told apart from a well-formed one with wrong types.
        var syntax = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 32 });
        try
        {
            while (syntax.Read())
            {
            }
        }
        catch (JsonException e)
        {
            return new(null, BodyProblem.Malformed, $"The request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).", null);
        }

        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 32 });
        try
        {
            var value = JsonSerializer.Deserialize(ref reader, typeInfo);
            return value is null
                ? new(null, BodyProblem.Malformed, "The request body must be a JSON object.", null)
                : new(value, BodyProblem.None, null, null);
        }
        catch (JsonException e)
        {
            var (field, expected) = Describe(e.Path, typeInfo);
            if (field is null)
            {
                return new(null, BodyProblem.Malformed, "The request body must be a JSON object.", null);
            }

            return new(null, BodyProblem.WrongTypes, "A field has a value of the wrong type.",
                new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [expected] });
        }
    }

    /// <summary>Turns the serializer's JSON path (<c>$.formData.agreeToTerms</c>) into the field's name and what it must be.</summary>
    private static (string? Field, string Expected) Describe(string? path, JsonTypeInfo root)
    {
        if (string.IsNullOrEmpty(path) || path == "$" || !path.StartsWith("$.", StringComparison.Ordinal))
        {
            return (null, "");
        }

        var names = new List<string>();
        JsonTypeInfo? current = root;
        Type? type = null;
        foreach (var segment in path[2..].Split('.'))
        {
            var name = segment.Split('[')[0];
            var property = current?.Properties.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            names.Add(property?.Name ?? name);
            type = property?.PropertyType;
            current = type is null ? null : root.Options.GetTypeInfo(type);
        }

        var expected = (Nullable.GetUnderlyingType(type ?? typeof(object)) ?? type) switch
        {
            { } t when t == typeof(string) => "Must be a string.",
            { } t when t == typeof(bool) => "Must be true or false.",
            { } t when t.IsClass => "Must be a JSON object.",
            _ => "Has a value of the wrong type.",
        };
        return (string.Join('.', names), expected);
    }
}
