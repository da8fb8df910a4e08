using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Hermes.ServiceDefaults;

/// <summary>
/// Refuses to start a Production host that still carries development defaults: a value that holds a placeholder of
/// <c>.env.example</c> (<c>CHANGE_ME…</c>) or of the Kubernetes secret template (<c>REPLACE_ME</c>, also inside a
/// URL or after <c>whsec_</c>), the webhook pointed at the
/// development receiver, or a database on the local development cluster (<c>.hermes/</c>). Every other
/// requirement (a webhook URL, a well-formed secret, long admin keys) is checked in every environment by
/// the host's own option validation. Staging and Development start as configured.
/// </summary>
public static class ProductionGuard
{
    /// <summary>The placeholders of the shipped templates; a value containing one anywhere is refused.</summary>
    public static readonly IReadOnlyList<string> Placeholders = ["CHANGE_ME", "REPLACE_ME"];

    /// <summary>The problems found, each naming its key; empty outside Production.</summary>
    public static IReadOnlyList<string> Check(IConfiguration configuration, IHostEnvironment environment)
    {
        if (!environment.IsProduction())
        {
            return [];
        }

        var problems = new List<string>();
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (value is not null && Placeholders.FirstOrDefault(p => value.Contains(p, StringComparison.Ordinal)) is { } placeholder)
            {
                problems.Add($"{key} still holds the placeholder '{placeholder}' of a template: set the real value.");
            }
        }

        var webhook = configuration["N8N_WEBHOOK_URL"] ?? configuration["Webhook:Url"];
        if (webhook is not null && webhook.TrimEnd('/').EndsWith("/dev/n8n", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add("N8N_WEBHOOK_URL points at the development receiver (/dev/n8n), which does not exist in Production: give the n8n webhook's URL.");
        }

        problems.Sort(StringComparer.Ordinal);
        return problems;
    }

    /// <summary>Throws with every problem listed when <see cref="Check"/> finds any.</summary>
    public static void Enforce(IConfiguration configuration, IHostEnvironment environment)
    {
        var problems = Check(configuration, environment);
        if (problems.Count > 0)
        {
            throw new ProductionGuardException(
                $"Refusing to start in {environment.EnvironmentName} with development defaults:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
        }
    }
}

/// <summary>A Production host refused to start with development defaults; the message lists each problem with its key.</summary>
public sealed class ProductionGuardException(string message) : ConfigurationRefusedException(message);

/// <summary>
/// A setting that makes the host refuse to start, found while it is set up; the message names the key. The hosts exit
/// with it in order (<see cref="ConfigurationRefusal"/>).
/// </summary>
public class ConfigurationRefusedException(string message) : InvalidOperationException(message);
