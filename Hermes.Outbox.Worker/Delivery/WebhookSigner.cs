using System.Security.Cryptography;
using System.Text;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// Standard Webhooks signatures: <c>v1,</c> + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"))
/// where the key is the base64 after <c>whsec_</c>. With several keys (a rotation), one signature per key,
/// separated by spaces; a receiver accepts the request when any of them verifies.
/// </summary>
public static class WebhookSigner
{
    public const string SecretPrefix = "whsec_";

    /// <summary>Decodes a <c>whsec_</c> secret; false unless it is the prefix and the base64 of 24 to 64 bytes (the spec's range).</summary>
    public static bool TryDecodeSecret(string secret, out byte[] key)
    {
        key = [];
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var encoded = secret.AsSpan(SecretPrefix.Length);
        var buffer = new byte[(encoded.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64Chars(encoded, buffer, out var written) || written is < 24 or > 64)
        {
            return false;
        }

        key = buffer[..written];
        return true;
    }

    /// <summary>The <c>webhook-signature</c> header value for one message.</summary>
    public static string Sign(string messageId, long timestamp, ReadOnlySpan<byte> body, IReadOnlyList<byte[]> keys)
    {
        ArgumentOutOfRangeException.ThrowIfZero(keys.Count);
        var prefix = Encoding.UTF8.GetBytes(FormattableString.Invariant($"{messageId}.{timestamp}."));
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));

        var builder = new StringBuilder(keys.Count * 48);
        Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
        foreach (var key in keys)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            HMACSHA256.HashData(key, content, hash);
            builder.Append("v1,").Append(Convert.ToBase64String(hash));
        }

        return builder.ToString();
    }
}
