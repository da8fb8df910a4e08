using System.Security.Cryptography;
using System.Text;

namespace Hermes.Api.Admin;

/// <summary>
/// The admin API keys from <c>HERMES_ADMIN_API_KEY</c>: one key, or several separated by commas so a new key can be
/// rolled out before the old one is removed. No key means no admin API at all (its routes are not mapped).
/// </summary>
public sealed class AdminApiKeys
{
    public const string ConfigurationKey = "HERMES_ADMIN_API_KEY";
    public const int MinimumLength = 16;

    private readonly byte[][] _hashes;

    private AdminApiKeys(IReadOnlyList<string> keys)
    {
        Count = keys.Count;
        _hashes = [.. keys.Select(static k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];
    }

    public int Count { get; }

    public bool IsEnabled => Count > 0;

    /// <summary>Reads and checks the setting; a key shorter than <see cref="MinimumLength"/> characters is refused, naming the setting.</summary>
    public static AdminApiKeys FromConfiguration(IConfiguration configuration)
    {
        var keys = (configuration[ConfigurationKey] ?? "")
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var weak = keys.Count(static k => k.Length < MinimumLength);
        if (weak > 0)
        {
            throw new InvalidOperationException(
                $"{ConfigurationKey} holds {weak} key(s) shorter than {MinimumLength} characters. Use long random keys " +
                "(for example: openssl rand -base64 32), several separated by commas while rotating.");
        }

        return new AdminApiKeys(keys);
    }

    /// <summary>
    /// True when <paramref name="presented"/> is one of the keys. Both sides are hashed first, so the comparison
    /// takes the same time whatever the key's length, and every configured key is compared, so the time does not
    /// tell which one matched (<see cref="CryptographicOperations.FixedTimeEquals"/>).
    /// </summary>
    public bool Accepts(string? presented)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        var match = false;
        foreach (var candidate in _hashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, candidate);
        }

        return match;
    }

    /// <summary>The key of a request: the <c>X-Api-Key</c> header, or <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    public static string? FromRequest(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var header) && !string.IsNullOrEmpty(header))
        {
            return header.ToString().Trim();
        }

        var authorization = request.Headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        return authorization.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase) ? authorization[Bearer.Length..].Trim() : null;
    }
}
