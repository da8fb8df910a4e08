using System.Security.Cryptography;

namespace Hermes.Domain;

/// <summary>
/// Public lead ids: <c>lead_</c> and 26 random characters of Crockford base32 (130 bits). They reveal
/// neither time nor volume and cannot be guessed; the incremental <see cref="Lead.BackupId"/> stays internal.
/// </summary>
public static class LeadIdentifier
{
    public const string Prefix = "lead_";
    public const int Length = 31;
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static string New() => Prefix + RandomNumberGenerator.GetString(Alphabet, Length - Prefix.Length);

    public static bool IsWellFormed(string? value) =>
        value is { Length: Length } && value.StartsWith(Prefix, StringComparison.Ordinal)
        && value.AsSpan(Prefix.Length).IndexOfAnyExcept(Alphabet) < 0;
}
