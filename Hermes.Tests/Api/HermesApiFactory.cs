using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Api;

/// <summary>The public API host (see <see cref="HermesHostFactory{TEntryPoint}"/>).</summary>
public sealed class HermesApiFactory(string connectionString, IDictionary<string, string?>? settings = null, string environment = "Production", int? managementPort = null)
    : HermesHostFactory<Program>(connectionString, settings, environment, managementPort);

/// <summary>The admin host (admin API, console), with <paramref name="adminKeys"/> as <c>HERMES_ADMIN_API_KEY</c> unless the settings name one.</summary>
public sealed class HermesAdminFactory(string connectionString, string adminKeys, IDictionary<string, string?>? settings = null, string environment = "Production", int? managementPort = null)
    : HermesHostFactory<Hermes.Admin.AdminProgram>(connectionString, WithKeys(adminKeys, settings), environment, managementPort)
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
/// With a <c>managementPort</c> (see <see cref="FreePort"/>) the host also listens there and is told so through
/// <c>Management:Port</c>, as the images are: then the public address is <see cref="ServerAddress"/> and the
/// management one <see cref="ManagementAddress"/>.
/// </summary>
public abstract class HermesHostFactory<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private readonly Dictionary<string, string?> _settings;
    private readonly string _environment;
    private readonly int? _managementPort;

    protected HermesHostFactory(string connectionString, IDictionary<string, string?>? settings = null, string environment = "Production", int? managementPort = null)
    {
        _managementPort = managementPort;
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

        if (managementPort is { } port)
        {
            _settings["Management:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            if (managementPort is { } port)
            {
                kestrel.Listen(IPAddress.Loopback, port);
            }
        });
    }

    /// <summary>A TCP port nothing listens on right now (the system picks it), for a management port.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>What the host logged at Warning or above.</summary>
    public CapturedLogs Logs { get; } = new();

    /// <summary>The host's <see cref="TimeProvider"/> instead of the system clock (a <see cref="Infrastructure.TestClock"/>).</summary>
    public TimeProvider? Clock { get; init; }

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
        if (Clock is { } clock)
        {
            builder.ConfigureTestServices(services => services.AddSingleton(clock));
        }
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(_settings));
    }

    /// <summary>Where Kestrel listens for the public routes (starting the server when it is not running yet).</summary>
    public Uri ServerAddress => Addresses().Single(address => address.Port != _managementPort);

    /// <summary>The management port's address (metrics, health); only with a management port.</summary>
    public Uri ManagementAddress => Addresses().Single(address => address.Port == (_managementPort ?? throw new InvalidOperationException("This host has no management port.")));

    private IEnumerable<Uri> Addresses()
    {
        StartServer();
        return Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Select(static address => new Uri(address));
    }

    /// <summary>A client for the running server; it follows no redirects and keeps no cookies.</summary>
    public HttpClient CreateApiClient()
    {
        return CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = ServerAddress, AllowAutoRedirect = false, HandleCookies = false });
    }

    /// <summary>A client for the management port.</summary>
    public HttpClient CreateManagementClient()
    {
        return CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = ManagementAddress, AllowAutoRedirect = false, HandleCookies = false });
    }
}
