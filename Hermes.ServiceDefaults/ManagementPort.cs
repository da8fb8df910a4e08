using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Hermes.ServiceDefaults;

/// <summary>
/// Section <c>Management</c>: the port on which a web host serves <c>/metrics</c> and its health endpoints, and
/// nothing else; its other routes are then not served there, and those endpoints nowhere else. Unset (tests,
/// <c>./run.sh</c>), one port serves everything. The images set <see cref="DefaultPort"/> and listen on it beside the
/// public port (<c>ASPNETCORE_URLS=http://+:8080;http://+:9464</c>); compose and Kubernetes publish only the public one.
/// </summary>
public sealed class ManagementOptions
{
    public const string Section = "Management";

    /// <summary>
    /// 9464: the port OpenTelemetry's Prometheus exporters listen on by default (<c>OTEL_EXPORTER_PROMETHEUS_PORT</c>),
    /// so it is free of the usual application ports and recognisable as "metrics" to whoever reads a port list.
    /// </summary>
    public const int DefaultPort = 9464;

    /// <summary>The management port; the host must also listen on it (<c>ASPNETCORE_URLS</c>, <c>--urls</c>, Kestrel endpoints).</summary>
    public int? Port { get; set; }
}

/// <summary>Marks an endpoint as served on the management port only (<see cref="ManagementPortExtensions.OnManagementPort{TBuilder}"/>).</summary>
public sealed class ManagementEndpointMetadata
{
    public static readonly ManagementEndpointMetadata Instance = new();

    private ManagementEndpointMetadata()
    {
    }
}

public static class ManagementPortExtensions
{
    /// <summary>
    /// <c>Management:Port</c>, validated at start, the routing policy that keeps management endpoints and the others
    /// apart by the port a connection arrived on, and the start check that the host listens there.
    /// </summary>
    public static IServiceCollection AddHermesManagementPort(this IServiceCollection services)
    {
        services.AddOptions<ManagementOptions>()
            .BindConfiguration(ManagementOptions.Section)
            .Validate(static o => o.Port is null or (> 0 and <= 65535), "Management:Port must be a TCP port (1-65535).")
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ManagementPortMatcherPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ManagementPortCheck>());
        return services;
    }

    /// <summary>Serves the endpoint on the management port only, when one is configured.</summary>
    public static TBuilder OnManagementPort<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(ManagementEndpointMetadata.Instance);
        return builder;
    }
}

/// <summary>
/// Routing by the connection's local port, not by <c>RequireHost("*:9464")</c>: that one matches the <c>Host</c>
/// header, which the client writes, so <c>Host: x:9464</c> on the public port would reach the metrics (and behind a
/// proxy the header names the proxy's port, not ours: dotnet/aspnetcore#46057). An endpoint marked
/// <see cref="ManagementEndpointMetadata"/> is a candidate only on the management port, every other one only off it;
/// with no candidate left the answer is the usual 404.
/// </summary>
internal sealed class ManagementPortMatcherPolicy(IOptions<ManagementOptions> options) : MatcherPolicy, IEndpointSelectorPolicy
{
    // Before the HTTP method policy, so a management path on the public port is a 404, not a 405.
    public override int Order => -1000;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => options.Value.Port is not null;

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var onManagementPort = httpContext.Connection.LocalPort == options.Value.Port;
        for (var i = 0; i < candidates.Count; i++)
        {
            if (!candidates.IsValidCandidate(i))
            {
                continue;
            }

            var management = candidates[i].Endpoint.Metadata.GetMetadata<ManagementEndpointMetadata>() is not null;
            if (management != onManagementPort)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// A management port the server does not listen on would leave Prometheus and the probes with nothing to ask: the
/// start is refused, naming the key and the addresses. A host run as its own program is checked before it starts,
/// against the addresses its configuration tells Kestrel to bind (<see cref="RefuseUnlessConfiguredToListen"/>, from
/// <see cref="ConfigurationRefusal.RunAsync{THost}"/>): an orderly exit 78, nothing listening yet. Once started, the
/// addresses the server really bound are checked too: the only check a host gets whose listeners a test harness sets
/// in code, and a backstop for a binding the configuration does not show.
/// </summary>
internal sealed class ManagementPortCheck(IOptions<ManagementOptions> options, IServer server) : IHostedLifecycleService
{
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Port is not { } port)
        {
            return Task.CompletedTask;
        }

        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        if (!addresses.Any(address => BindingAddress.Parse(address).Port == port))
        {
            throw new ConfigurationRefusedException(Refusal(port, "listens only on", addresses));
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Throws <see cref="ConfigurationRefusedException"/> when <c>Management:Port</c> is set and none of the addresses
    /// the configuration gives Kestrel has that port. Kestrel's own order: endpoints under <c>Kestrel:Endpoints</c>
    /// replace <c>urls</c> (<c>ASPNETCORE_URLS</c>, <c>--urls</c>), which replace <c>http_ports</c>/<c>https_ports</c>
    /// (<c>ASPNETCORE_HTTP_PORTS</c>, as the .NET images set); with none of them it binds http://localhost:5000.
    /// </summary>
    public static void RefuseUnlessConfiguredToListen(IServiceProvider services)
    {
        if (services.GetService<IOptions<ManagementOptions>>()?.Value.Port is not { } port)
        {
            return;
        }

        var addresses = ConfiguredAddresses(services.GetRequiredService<IConfiguration>());
        if (!addresses.Any(address => BindingAddress.Parse(address).Port == port))
        {
            throw new ConfigurationRefusedException(Refusal(port, "is told to listen only on", addresses));
        }
    }

    internal static IReadOnlyList<string> ConfiguredAddresses(IConfiguration configuration)
    {
        const StringSplitOptions Split = StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries;
        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(static e => e["Url"]).OfType<string>().ToList();
        if (endpoints.Count > 0)
        {
            return endpoints;
        }

        if (configuration["urls"]?.Split(';', Split) is { Length: > 0 } urls)
        {
            return urls;
        }

        var ports = (configuration["http_ports"]?.Split(';', Split) ?? []).Select(static p => $"http://*:{p}")
            .Concat((configuration["https_ports"]?.Split(';', Split) ?? []).Select(static p => $"https://*:{p}")).ToList();
        return ports.Count > 0 ? ports : ["http://localhost:5000"];
    }

    private static string Refusal(int port, string listens, IEnumerable<string> addresses) =>
        $"Refusing to start: the configuration is not valid:{Environment.NewLine}  Management:Port is {port}, but the host {listens} {string.Join(", ", addresses)}. "
        + $"Add http://+:{port} to ASPNETCORE_URLS (or --urls), or unset Management:Port.";

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
