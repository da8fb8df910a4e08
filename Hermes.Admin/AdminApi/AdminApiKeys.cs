using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Hermes.Admin.AdminApi;

/// <summary>
/// The admin API keys from <c>HERMES_ADMIN_API_KEY</c>: one key, or several separated by commas so a new key can be
/// rolled out before the old one is removed. No key means no admin API at all (its routes are not mapped).
/// </summary>
public sealed class AdminApiKeys
{
    public const string ConfigurationKey = "HERMES_ADMIN_API_KEY";
    public const int MinimumLength = 32;

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
                "of at least 32 characters (for example: openssl rand -hex 32, as deploy/generate-env.sh makes them), several separated by commas while rotating.");
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

    /// <summary>
    /// A short id of the configured key that <paramref name="presented"/> is, or null when it is none of them: kept in a
    /// console session, so removing a key from the setting ends the sessions signed in with it.
    /// </summary>
    internal string? IdOf(string? presented)
    {
        if (!Accepts(presented))
        {
            return null;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented!));
        return Id(hash);
    }

    /// <summary>True while the key with this <see cref="IdOf"/> id is still configured.</summary>
    internal bool IsConfiguredId(string? id) => id is not null && _hashes.Any(hash => string.Equals(Id(hash), id, StringComparison.Ordinal));

    private static readonly byte[] ConsoleSalt = Encoding.UTF8.GetBytes("hermes-admin-key");

    private static string Id(byte[] hash) =>
        Convert.ToHexStringLower(HKDF.DeriveKey(HashAlgorithmName.SHA256, hash, 8, ConsoleSalt, "key-id"u8.ToArray()));

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

/// <summary>What <see cref="AdminApiKeysCheck"/> validates: nothing bound, the keys are read from configuration.</summary>
internal sealed class AdminApiKeysChecked;

/// <summary><c>HERMES_ADMIN_API_KEY</c>: at least one key, none shorter than <see cref="AdminApiKeys.MinimumLength"/>.</summary>
internal sealed class AdminApiKeysCheck(IConfiguration configuration) : IValidateOptions<AdminApiKeysChecked>
{
    public ValidateOptionsResult Validate(string? name, AdminApiKeysChecked options)
    {
        AdminApiKeys keys;
        try
        {
            keys = AdminApiKeys.FromConfiguration(configuration);
        }
        catch (InvalidOperationException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }

        return keys.IsEnabled
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{AdminApiKeys.ConfigurationKey} is not set: the admin host (admin API and console) needs at least one key " +
                "(for example: openssl rand -hex 32; several separated by commas while rotating).");
    }
}
