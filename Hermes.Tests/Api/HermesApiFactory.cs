using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Api;

/// <summary>The public API host (see <see cref="HermesHostFactory{TEntryPoint}"/>).</summary>
public sealed class HermesApiFactory(string connectionString, IDictionary<string, string?>? settings = null, string environment = "Production")
    : HermesHostFactory<Program>(connectionString, settings, environment);

/// <summary>The admin host (admin API, console), with <paramref name="adminKeys"/> as <c>HERMES_ADMIN_API_KEY</c> unless the settings name one.</summary>
public sealed class HermesAdminFactory(string connectionString, string adminKeys, IDictionary<string, string?>? settings = null, string environment = "Production")
    : HermesHostFactory<Hermes.Admin.AdminProgram>(connectionString, WithKeys(adminKeys, settings), environment)
{
    private static Dictionary<string, string?> WithKeys(string adminKeys, IDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase) { ["HERMES_ADMIN_API_KEY"] = adminKeys };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return all;
    }
}

/// <summary>
/// A Hermes host on real Kestrel (127.0.0.1, a free port) over the given database, in the given environment
/// (Production unless said otherwise). Settings are added on top of every other configuration source, and
/// <c>DATABASE_URL</c> is blanked so a developer's environment cannot redirect the tests to another database.
/// </summary>
public abstract class HermesHostFactory<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private readonly Dictionary<string, string?> _settings;
    private readonly string _environment;

    protected HermesHostFactory(string connectionString, IDictionary<string, string?>? settings = null, string environment = "Production")
    {
        _environment = environment;
        _settings = new(StringComparer.OrdinalIgnoreCase)
        {
            ["DATABASE_URL"] = "",
            ["ConnectionStrings:Hermes"] = connectionString,
            // Every test talks from 127.0.0.1: a generous limit unless a test is about the limit.
            ["Intake:RateLimit:PermitLimit"] = "100000",
            ["Admin:KeyFailureLimit"] = "1000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        UseKestrel(static kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    /// <summary>What the host logged at Warning or above.</summary>
    public CapturedLogs Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(_environment);
        // Also as host settings, so the host sees them while it registers services (the admin host reads
        // HERMES_ADMIN_API_KEY there); the configuration source below keeps them on top of every other.
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(_settings));
    }

    /// <summary>Where Kestrel listens (starting the server when it is not running yet).</summary>
    public Uri ServerAddress
    {
        get
        {
            StartServer();
            var addresses = Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
            return new Uri(addresses.Single());
        }
    }

    /// <summary>A client for the running server; it follows no redirects and keeps no cookies.</summary>
    public HttpClient CreateApiClient()
    {
        return CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = ServerAddress, AllowAutoRedirect = false, HandleCookies = false });
    }
}
