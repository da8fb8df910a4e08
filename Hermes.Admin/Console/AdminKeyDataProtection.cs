using System.Security.Cryptography;
using System.Text;
using Hermes.Admin.AdminApi;
using Microsoft.AspNetCore.DataProtection;

namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// Protects the console's session cookie and antiforgery tokens with keys derived from the admin keys. The API runs
/// as several replicas with no shared key store, and ASP.NET Core's default key ring is per process, so a cookie
/// issued by one replica would not open on the next. Every replica has the same <c>HERMES_ADMIN_API_KEY</c>: an
/// AES-256-GCM key derived from it with HKDF-SHA256 (per purpose chain) opens on all of them. Data is protected with
/// the first configured key and opened with any, so a rotation keeps sessions; removing a key ends the sessions it
/// protected.
/// </summary>
internal sealed class AdminKeyDataProtectionProvider(AdminApiKeys keys) : IDataProtectionProvider
{
    public IDataProtector CreateProtector(string purpose) => new Protector(keys, "hermes-console/v1\0" + purpose);

    private sealed class Protector(AdminApiKeys keys, string purposes) : IDataProtector
    {
        private const byte Version = 1;
        private const int NonceSize = 12;
        private const int TagSize = 16;
        private const int Header = 1 + NonceSize + TagSize;

        private readonly Lazy<byte[][]> _keys = new(() => keys.DeriveKeys(Encoding.UTF8.GetBytes(purposes), 32));

        public IDataProtector CreateProtector(string purpose) => new Protector(keys, purposes + "\0" + purpose);

        public byte[] Protect(byte[] plaintext)
        {
            var output = new byte[Header + plaintext.Length];
            output[0] = Version;
            var nonce = output.AsSpan(1, NonceSize);
            RandomNumberGenerator.Fill(nonce);
            using var aes = new AesGcm(_keys.Value[0], TagSize);
            aes.Encrypt(nonce, plaintext, output.AsSpan(Header), output.AsSpan(1 + NonceSize, TagSize), output.AsSpan(0, 1));
            return output;
        }

        public byte[] Unprotect(byte[] protectedData)
        {
            if (protectedData.Length < Header || protectedData[0] != Version)
            {
                throw new CryptographicException("The data was not protected by the console.");
            }

            var plaintext = new byte[protectedData.Length - Header];
            foreach (var key in _keys.Value)
            {
                try
                {
                    using var aes = new AesGcm(key, TagSize);
                    aes.Decrypt(protectedData.AsSpan(1, NonceSize), protectedData.AsSpan(Header), protectedData.AsSpan(1 + NonceSize, TagSize), plaintext, protectedData.AsSpan(0, 1));
                    return plaintext;
                }
                catch (AuthenticationTagMismatchException)
                {
                    // Protected with another configured key, or with one that was removed: try the next.
                }
            }

            throw new CryptographicException("The data was protected with a key that is no longer configured.");
        }
    }
}
