using Hermes.Persistence;
using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Environments;

public sealed class ProductionGuardTests
{
    [Test]
    public void Production_refuses_placeholders_and_the_development_receiver()
    {
        var configuration = Config(
            ("HERMES_ADMIN_API_KEY", "CHANGE_ME_admin_key"),
            ("N8N_WEBHOOK_URL", "http://127.0.0.1:8081/dev/n8n"));

        var error = Assert.Throws<ProductionGuardException>(() => ProductionGuard.Enforce(configuration, new Environment("Production")));

        Assert.That(error!.Message, Does.StartWith("Refusing to start in Production with development defaults"));
        Assert.That(error.Message, Does.Contain("HERMES_ADMIN_API_KEY still holds the placeholder 'CHANGE_ME'"));
        Assert.That(error.Message, Does.Contain("N8N_WEBHOOK_URL points at the development receiver"));
        Assert.That(error.Message, Does.Not.Contain("CHANGE_ME_admin_key"), "the value itself is not echoed");
    }

    [TestCase("Production", true)]
    [TestCase("Development", false)]
    public async Task A_host_on_the_local_development_cluster_starts_only_outside_Production(string environment, bool refused)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = environment });
        builder.Configuration.AddInMemoryCollection([new("DATABASE_URL", "postgres://postgres@127.0.0.1:5500/hermes?options=-c%20x%3D.hermes")]);
        builder.AddHermesPersistence("guard-test");
        using var host = builder.Build();

        if (refused)
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
            Assert.That(error!.Message, Does.Contain("DATABASE_URL points at the local development cluster"));
        }
        else
        {
            await host.StartAsync();
            await host.StopAsync();
        }
    }

    [Test]
    public void Production_with_real_settings_starts()
    {
        var configuration = Config(("HERMES_ADMIN_API_KEY", "k3y-of-real-length-0123456789abcdef"), ("N8N_WEBHOOK_URL", "https://n8n.example.com/webhook/hermes-lead"));

        Assert.That(ProductionGuard.Check(configuration, new Environment("Production")), Is.Empty);
    }

    [TestCase("Development")]
    [TestCase("Staging")]
    public void Other_environments_are_not_refused(string name) =>
        Assert.That(ProductionGuard.Check(Config(("HERMES_ADMIN_API_KEY", "CHANGE_ME")), new Environment(name)), Is.Empty);

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(static v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private sealed class Environment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "hermes-test";
        public string ContentRootPath { get; set; } = "/";
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
