using System.Security.Cryptography;

namespace Hermes.Domain;

/// <summary>
/// Public lead ids: <c>lead_</c> and 26 characters of Crockford base32 from 128 random bits. They reveal
/// neither time nor volume and cannot be guessed; the incremental <see cref="Lead.Id"/> stays internal.
/// </summary>
public static class LeadIdentifier
{
    public const string Prefix = "lead_";
    public const int Length = 31;
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static string New()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        Span<char> chars = stackalloc char[Length];
        Prefix.CopyTo(chars);
        var value = new UInt128(BitConverter.ToUInt64(bytes[..8]), BitConverter.ToUInt64(bytes[8..]));
        for (var i = Length - 1; i >= Prefix.Length; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }

        return new string(chars);
    }

    public static bool IsWellFormed(string? value) =>
        value is { Length: Length } && value.StartsWith(Prefix, StringComparison.Ordinal)
        && value.AsSpan(Prefix.Length).IndexOfAnyExcept(Alphabet) < 0;
}
