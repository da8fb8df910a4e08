using System.Globalization;
using Npgsql;

namespace Hermes.Persistence;

/// <summary>
/// Turns a <c>postgres://user:pass@host:port/db?params</c> URL — the form Vercel, Neon, Supabase and Railway
/// hand out — into an Npgsql connection string. User, password and database are URL-decoded; several hosts
/// (<c>h1:5432,h2:5433</c>) and bracketed IPv6 addresses are allowed; libpq query parameters are mapped to
/// their Npgsql equivalents, and Npgsql keywords (<c>Maximum Pool Size=50</c>) pass through.
/// <c>pgbouncer=true</c> marks a transaction-pooling PgBouncer: session state cannot be trusted there, so
/// automatic statement preparation is off and the connection is not reset on close.
/// </summary>
public static class DatabaseUrl
{
    /// <summary>Parses <paramref name="url"/>; <paramref name="settingName"/> names the setting in error messages.</summary>
    public static NpgsqlConnectionStringBuilder Parse(string url, string settingName = "DATABASE_URL")
    {
        var text = url.Trim();
        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd > 0 ? text[..schemeEnd].ToLowerInvariant() : "";
        if (scheme is not ("postgres" or "postgresql"))
        {
            throw Invalid(settingName, "it must start with postgres:// or postgresql://");
        }

        var rest = text[(schemeEnd + 3)..];
        var fragment = rest.IndexOf('#', StringComparison.Ordinal);
        if (fragment >= 0)
        {
            rest = rest[..fragment];
        }

        var query = "";
        var queryStart = rest.IndexOf('?', StringComparison.Ordinal);
        if (queryStart >= 0)
        {
            query = rest[(queryStart + 1)..];
            rest = rest[..queryStart];
        }

        var path = "";
        var pathStart = rest.IndexOf('/', StringComparison.Ordinal);
        if (pathStart >= 0)
        {
            path = rest[(pathStart + 1)..];
            rest = rest[..pathStart];
        }

        var builder = new NpgsqlConnectionStringBuilder();
        var at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = rest[..at];
            rest = rest[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Decode(colon >= 0 ? userInfo[..colon] : userInfo, settingName, "user name");
            if (colon >= 0)
            {
                builder.Password = Decode(userInfo[(colon + 1)..], settingName, "password");
            }
        }

        ParseHosts(rest, builder, settingName);
        if (path.Length > 0)
        {
            builder.Database = Decode(path, settingName, "database name");
        }

        ApplyQuery(query, builder, settingName);
        return builder;
    }

    private static void ParseHosts(string hostList, NpgsqlConnectionStringBuilder builder, string settingName)
    {
        if (hostList.Length == 0)
        {
            return; // the host may come from the query (?host=/var/run/postgresql), as in libpq
        }

        var entries = new List<(string Host, int? Port)>();
        foreach (var part in hostList.Split(','))
        {
            string host;
            string? port = null;
            if (part.StartsWith('['))
            {
                var close = part.IndexOf(']', StringComparison.Ordinal);
                if (close < 0)
                {
                    throw Invalid(settingName, $"the IPv6 host '{part}' lacks its closing ']'");
                }

                host = part[1..close];
                var after = part[(close + 1)..];
                if (after.Length > 0)
                {
                    port = after.StartsWith(':') ? after[1..] : throw Invalid(settingName, $"unexpected text after the host '{part}'");
                }
            }
            else
            {
                var colon = part.LastIndexOf(':');
                host = colon >= 0 ? part[..colon] : part;
                port = colon >= 0 ? part[(colon + 1)..] : null;
            }

            host = Decode(host, settingName, "host");
            if (host.Length == 0)
            {
                throw Invalid(settingName, "a host name is empty");
            }

            int? number = null;
            if (port is not null)
            {
                if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed is < 1 or > 65535)
                {
                    throw Invalid(settingName, $"the port '{port}' is not a number from 1 to 65535");
                }

                number = parsed;
            }

            entries.Add((host, number));
        }

        if (entries.Count == 1)
        {
            builder.Host = entries[0].Host;
            if (entries[0].Port is { } single)
            {
                builder.Port = single;
            }

            return;
        }

        builder.Host = string.Join(',', entries.Select(static e =>
        {
            var host = e.Host.Contains(':', StringComparison.Ordinal) ? $"[{e.Host}]" : e.Host;
            return e.Port is { } p ? $"{host}:{p.ToString(CultureInfo.InvariantCulture)}" : host;
        }));
    }

    private static void ApplyQuery(string query, NpgsqlConnectionStringBuilder builder, string settingName)
    {
        if (query.Length == 0)
        {
            return;
        }

        var pgBouncer = false;
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Decode(eq >= 0 ? pair[..eq] : pair, settingName, "parameter name");
            var value = eq >= 0 ? Decode(pair[(eq + 1)..], settingName, $"value of '{key}'") : "";
            switch (key.ToLowerInvariant())
            {
                case "sslmode":
                    builder.SslMode = value.ToLowerInvariant() switch
                    {
                        "disable" => SslMode.Disable,
                        "allow" => SslMode.Allow,
                        "prefer" => SslMode.Prefer,
                        "require" => SslMode.Require,
                        "verify-ca" => SslMode.VerifyCA,
                        "verify-full" => SslMode.VerifyFull,
                        _ => throw Invalid(settingName, $"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full"),
                    };
                    break;
                case "sslrootcert":
                    builder.RootCertificate = value;
                    break;
                case "sslcert":
                    builder.SslCertificate = value;
                    break;
                case "sslkey":
                    builder.SslKey = value;
                    break;
                case "sslpassword":
                    builder.SslPassword = value;
                    break;
                case "connect_timeout":
                    builder.Timeout = Integer(key, value, settingName, min: 0);
                    break;
                case "application_name":
                    builder.ApplicationName = value;
                    break;
                case "options":
                    builder.Options = value;
                    break;
                case "target_session_attrs":
                    builder["Target Session Attributes"] = value;
                    break;
                case "channel_binding":
                    builder["Channel Binding"] = value;
                    break;
                case "user":
                    builder.Username = value;
                    break;
                case "password":
                    builder.Password = value;
                    break;
                case "dbname":
                    builder.Database = value;
                    break;
                case "host":
                    builder.Host = value;
                    break;
                case "port":
                    builder.Port = Integer(key, value, settingName, min: 1);
                    break;
                case "pgbouncer":
                    pgBouncer = value.Length == 0 || bool.TryParse(value, out var on) && on || value == "1";
                    break;
                case "schema":
                    // Prisma's schema parameter: the search path.
                    builder.SearchPath = value;
                    break;
                default:
                    try
                    {
                        builder[key] = value;
                    }
                    catch (ArgumentException)
                    {
                        throw Invalid(settingName, $"the parameter '{key}' is neither a libpq parameter Hermes maps nor an Npgsql connection string keyword");
                    }

                    break;
            }
        }

        if (pgBouncer)
        {
            MarkTransactionPooled(builder);
        }
    }

    /// <summary>Applies what Npgsql needs behind a transaction-pooling PgBouncer.</summary>
    public static void MarkTransactionPooled(NpgsqlConnectionStringBuilder builder)
    {
        builder.NoResetOnClose = true;
        builder.MaxAutoPrepare = 0;
    }

    /// <summary>True when the connection string was marked for a transaction-pooling PgBouncer.</summary>
    public static bool IsTransactionPooled(NpgsqlConnectionStringBuilder builder) => builder.NoResetOnClose && builder.MaxAutoPrepare == 0;

    private static int Integer(string key, string value, string settingName, int min)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < min)
        {
            throw Invalid(settingName, $"'{key}' must be a whole number of at least {min}, not '{value}'");
        }

        return number;
    }

    private static string Decode(string value, string settingName, string what)
    {
        for (var i = value.IndexOf('%', StringComparison.Ordinal); i >= 0; i = value.IndexOf('%', i + 1))
        {
            if (i + 2 >= value.Length || !char.IsAsciiHexDigit(value[i + 1]) || !char.IsAsciiHexDigit(value[i + 2]))
            {
                throw Invalid(settingName, $"the {what} is not correctly URL-encoded ('%' must be followed by two hex digits; write '%25' for '%')");
            }
        }

        return Uri.UnescapeDataString(value);
    }

    private static HermesConfigurationException Invalid(string settingName, string reason) =>
        new($"{settingName} is not a valid PostgreSQL URL: {reason}. Expected postgres://user:password@host:5432/database?sslmode=require (URL-encode special characters in the user name and password).");
}

/// <summary>A setting is missing or wrong; the message names the setting and how to fix it.</summary>
public sealed class HermesConfigurationException(string message) : Exception(message);
