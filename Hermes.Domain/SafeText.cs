using System.Globalization;

namespace Hermes.Domain;

/// <summary>
/// The one rule for text that comes from outside (form fields, headers, n8n's answers) on its way to PostgreSQL or a
/// log: it is made storable — a NUL or a lone surrogate, which PostgreSQL's <c>text</c> and <c>jsonb</c> refuse and
/// which no encoder can write as UTF-8, becomes U+FFFD — and it is shortened only between whole characters: at the
/// last grapheme-cluster boundary that fits (so an emoji, a flag or a letter with its accents is kept or dropped
/// whole), or, when a single cluster is longer than the limit, at the last code-point boundary (never between the
/// two halves of a surrogate pair). Lengths are UTF-16 code units, as <see cref="string.Length"/> and
/// PostgreSQL's <c>varchar(n)</c> limits of the ASCII-heavy text Hermes stores are compared.
/// </summary>
public static class SafeText
{
    public const char Replacement = '\uFFFD';

    /// <summary>At most <paramref name="maxLength"/> UTF-16 code units of <paramref name="text"/>, cut between whole characters.</summary>
    public static string Cut(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        return text.Length <= maxLength ? text : text[..CutLength(text, maxLength)];
    }

    /// <summary><see cref="Storable"/> first, then <see cref="Cut"/>: what every outside text goes through before it is stored.</summary>
    public static string Clean(string text, int maxLength) => Cut(Storable(text), maxLength);

    /// <summary>True when PostgreSQL accepts <paramref name="text"/> as it is: no NUL, no lone surrogate.</summary>
    public static bool IsStorable(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return false;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><paramref name="text"/> with every NUL and lone surrogate replaced by U+FFFD (the same string when there is none).</summary>
    public static string Storable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (IsStorable(text))
        {
            return text;
        }

        return string.Create(text.Length, text, static (buffer, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                if (char.IsHighSurrogate(c) && i + 1 < source.Length && char.IsLowSurrogate(source[i + 1]))
                {
                    buffer[i] = c;
                    buffer[i + 1] = source[i + 1];
                    i++;
                }
                else
                {
                    buffer[i] = c == '\0' || char.IsSurrogate(c) ? Replacement : c;
                }
            }
        });
    }

    private static int CutLength(string text, int maxLength)
    {
        var length = 0;
        while (length < text.Length)
        {
            var next = StringInfo.GetNextTextElementLength(text.AsSpan(length));
            if (length + next > maxLength)
            {
                break;
            }

            length += next;
        }

        if (length > 0 || maxLength == 0)
        {
            return length;
        }

        // One cluster longer than the limit (a letter under thousands of combining marks): whole code points.
        return char.IsHighSurrogate(text[maxLength - 1]) && char.IsLowSurrogate(text[maxLength]) ? maxLength - 1 : maxLength;
    }
}
