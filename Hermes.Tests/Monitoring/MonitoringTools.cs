using System.Text.Json.Nodes;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.Monitoring;

/// <summary>
/// Debian's <c>prometheus</c> (with <c>promtool</c>) and <c>prometheus-alertmanager</c> (with <c>amtool</c>). Tests
/// that need them are skipped with the install command when they are missing, and fail instead under
/// <c>HERMES_REQUIRE_PROMETHEUS=1</c> (set by .ci/run).
/// </summary>
public static class MonitoringTools
{
    public const string RequireVariable = "HERMES_REQUIRE_PROMETHEUS";
    public const string Install = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager";

    public static string Promtool => Need("promtool");

    public static string Amtool => Need("amtool");

    public static string Prometheus => Need("prometheus");

    public static string RulesDirectory => RepositoryFiles.PathOf("deploy", "monitoring", "prometheus");

    public static string Need(string tool)
    {
        if (ExternalTool.Find(tool) is { } path)
        {
            return path;
        }

        var reason = $"`{tool}` is not installed; `{Install}` provides it.";
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            Assert.Fail(reason + $" ({RequireVariable}=1 requires it.)");
        }

        Assert.Ignore(reason);
        return "";
    }
}
