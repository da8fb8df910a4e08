using Hermes.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Hermes.Tests.Observability;

/// <summary>
/// Which console format a host picks: JSON when asked (<c>HERMES_LOG_FORMAT=json</c>) or in a container
/// (<c>DOTNET_RUNNING_IN_CONTAINER=true</c>) unless told otherwise; an explicit
/// <c>Logging:Console:FormatterName</c> always wins. The builder takes only the given settings, so the test
/// machine's own environment (a CI container, say) cannot decide the outcome.
/// </summary>
public sealed class ConsoleFormatTests
{
    [TestCase(null, null, null, "simple", TestName = "Plain_process_logs_plain_text")]
    [TestCase("json", null, null, "json", TestName = "HERMES_LOG_FORMAT_json_selects_json")]
    [TestCase("JSON", null, null, "json", TestName = "HERMES_LOG_FORMAT_is_case_insensitive")]
    [TestCase(null, "true", null, "json", TestName = "Container_logs_json_by_default")]
    [TestCase("simple", "true", null, "simple", TestName = "HERMES_LOG_FORMAT_simple_keeps_text_in_a_container")]
    [TestCase("json", null, "systemd", "systemd", TestName = "Explicit_formatter_name_wins_over_HERMES_LOG_FORMAT")]
    [TestCase(null, "true", "simple", "simple", TestName = "Explicit_formatter_name_wins_in_a_container")]
    public void Console_format_follows_the_settings(string? logFormat, string? inContainer, string? formatterName, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            [HermesTelemetryExtensions.LogFormatKey] = logFormat,
            ["DOTNET_RUNNING_IN_CONTAINER"] = inContainer,
            ["Logging:Console:FormatterName"] = formatterName,
        };
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddConsole();

        builder.AddHermesConsoleLogging();
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue;
        Assert.That(options.FormatterName ?? "simple", Is.EqualTo(expected));
        if (expected == "json")
        {
            var json = host.Services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue;
            Assert.Multiple(() =>
            {
                Assert.That(json.IncludeScopes, Is.True, "scopes carry the lead and outbox ids");
                Assert.That(json.UseUtcTimestamp, Is.True);
            });
        }
    }
}
