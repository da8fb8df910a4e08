using Hermes.ServiceDefaults;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Hermes.Tests.Observability;

/// <summary>The resource every signal (traces, metrics, logs) of the API and the admin host carries: service.version from MinVer, one deployment.environment.name.</summary>
public sealed class TelemetryResourceTests : DatabaseTest
{
    [TestCase("hermes-api", null, "Production")]
    [TestCase("hermes-api", "deployment.environment.name=compose,team=leads", "compose")]
    [TestCase("hermes-admin", null, "Production")]
    public async Task Every_signal_carries_the_build_version_and_one_deployment_environment_name(string service, string? resourceAttributes, string environment)
    {
        var settings = new Dictionary<string, string?>
        {
            // Nothing listens on the discard port: the exporters are registered, what they send goes nowhere.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
            ["OTEL_RESOURCE_ATTRIBUTES"] = resourceAttributes,
        };
        await using var host = Start(service, settings);
        var version = HermesTelemetryExtensions.VersionOf(typeof(TelemetryResourceTests).Assembly);
        BaseProvider[] providers =
        [
            host.Services.GetRequiredService<TracerProvider>(),
            host.Services.GetRequiredService<MeterProvider>(),
            host.Services.GetRequiredService<LoggerProvider>(),
        ];

        Assert.That(version, Does.Match(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$").And.Not.EqualTo("1.0.0"), "MinVer stamped this build");
        foreach (var provider in providers)
        {
            var attributes = provider.GetResource().Attributes.ToDictionary(static a => a.Key, static a => a.Value);
            Assert.Multiple(() =>
            {
                Assert.That(attributes.GetValueOrDefault("service.name"), Is.EqualTo(service), provider.GetType().Name);
                Assert.That(attributes.GetValueOrDefault("service.version"), Is.EqualTo(version), provider.GetType().Name);
                Assert.That(attributes.GetValueOrDefault("deployment.environment.name"), Is.EqualTo(environment), provider.GetType().Name);
                Assert.That(attributes.Keys, Does.Not.Contain("deployment.environment"), "not the deprecated name");
            });
        }
    }

    /// <summary>The web host named by its service, on this class's database; its services are what the test reads.</summary>
    private Host Start(string service, Dictionary<string, string?> settings)
    {
        if (service == "hermes-admin")
        {
            var admin = new HermesAdminFactory(ConnectionString, "telemetry-resource-test-admin-key-0123456789abcdef", settings);
            return new Host(admin.Services, admin.DisposeAsync);
        }

        var api = new HermesApiFactory(ConnectionString, settings);
        return new Host(api.Services, api.DisposeAsync);
    }

    private sealed record Host(IServiceProvider Services, Func<ValueTask> Dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Dispose();
    }
}
