using Hermes.ServiceDefaults;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Hermes.Tests.Observability;

/// <summary>The resource every signal (traces, metrics, logs) carries: service.version from MinVer, one deployment.environment.name.</summary>
public sealed class TelemetryResourceTests : DatabaseTest
{
    [TestCase(null, "Production")]
    [TestCase("deployment.environment.name=compose,team=leads", "compose")]
    public async Task Every_signal_carries_the_build_version_and_one_deployment_environment_name(string? resourceAttributes, string environment)
    {
        var settings = new Dictionary<string, string?>
        {
            // Nothing listens on the discard port: the exporters are registered, what they send goes nowhere.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
            ["OTEL_RESOURCE_ATTRIBUTES"] = resourceAttributes,
        };
        await using var api = new HermesApiFactory(ConnectionString, settings);
        var version = HermesTelemetryExtensions.VersionOf(typeof(TelemetryResourceTests).Assembly);
        BaseProvider[] providers =
        [
            api.Services.GetRequiredService<TracerProvider>(),
            api.Services.GetRequiredService<MeterProvider>(),
            api.Services.GetRequiredService<LoggerProvider>(),
        ];

        Assert.That(version, Does.Match(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$").And.Not.EqualTo("1.0.0"), "MinVer stamped this build");
        foreach (var provider in providers)
        {
            var attributes = provider.GetResource().Attributes.ToDictionary(static a => a.Key, static a => a.Value);
            Assert.Multiple(() =>
            {
                Assert.That(attributes.GetValueOrDefault("service.name"), Is.EqualTo("hermes-api"), provider.GetType().Name);
                Assert.That(attributes.GetValueOrDefault("service.version"), Is.EqualTo(version), provider.GetType().Name);
                Assert.That(attributes.GetValueOrDefault("deployment.environment.name"), Is.EqualTo(environment), provider.GetType().Name);
                Assert.That(attributes.Keys, Does.Not.Contain("deployment.environment"), "not the deprecated name");
            });
        }
    }
}
