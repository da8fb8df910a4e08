using Hermes.Tests.Deploy;

namespace Hermes.Tests.Containers;

/// <summary>
/// The Docker engine the container tests use: <c>DOCKER_HOST</c> when set, else <c>/var/run/docker.sock</c>, else the
/// engine .ci/run starts under <c>${HERMES_CACHE_DIR:-~/.cache/hermes}/docker</c>. When none answers (or the
/// docker / docker-compose clients are missing) the tests are skipped with the reason, and fail instead under
/// <c>HERMES_REQUIRE_DOCKER=1</c>, which .ci/run sets, so a green CI run has run them.
/// </summary>
public static class DockerEngine
{
    public const string RequireVariable = "HERMES_REQUIRE_DOCKER";

    private static readonly Lazy<Task<(string? Host, string Problem)>> Found = new(FindAsync);

    /// <summary>The DOCKER_HOST value of a reachable engine, or null.</summary>
    public static async Task<string?> FindHostAsync() => (await Found.Value).Host;

    /// <summary>The newest Engine API version the engine at <paramref name="host"/> speaks (Debian 12's docker.io: 1.41).</summary>
    public static async Task<Version> ApiVersionAsync(string host)
    {
        var version = await ExternalTool.RunAsync("docker", ["version", "--format", "{{.Server.APIVersion}}"], environment: CommandEnvironment(host), timeout: TimeSpan.FromSeconds(20));
        Assert.That(version.ExitCode, Is.Zero, version.Describe());
        return Version.Parse(version.StandardOutput.Trim());
    }

    /// <summary>The DOCKER_HOST value of a reachable engine; skips (or fails) the test when there is none.</summary>
    public static async Task<string> RequireAsync()
    {
        var (host, problem) = await Found.Value;
        if (host is not null)
        {
            return host;
        }

        var message = $"No Docker engine: {problem}. Start one (docs/deploy-compose.md, \"Local stand-ins for the base images\": as root, apt-get install -y docker.io docker-compose; " +
            "dockerd --storage-driver overlay2 (or vfs) ...), or set DOCKER_HOST.";
        if (System.Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            Assert.Fail(message + $" ({RequireVariable}=1: failing instead of skipping.)");
        }

        Assert.Ignore(message);
        return "";
    }

    /// <summary>The environment every docker / docker-compose command of the tests runs with.</summary>
    public static Dictionary<string, string?> CommandEnvironment(string host) => new()
    {
        ["DOCKER_HOST"] = host,
        // docker-compose v1 builds through the engine API (no BuildKit, no buildx needed).
        ["COMPOSE_DOCKER_CLI_BUILD"] = "0",
        ["DOCKER_BUILDKIT"] = "0",
    };

    private static async Task<(string? Host, string Problem)> FindAsync()
    {
        var docker = ExternalTool.Find("docker");
        if (docker is null)
        {
            return (null, "the docker client is not on the PATH");
        }

        if (ExternalTool.Find("docker-compose") is null)
        {
            return (null, "docker-compose is not on the PATH");
        }

        var candidates = new List<string>();
        if (System.Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } set)
        {
            candidates.Add(set);
        }
        else
        {
            candidates.Add("unix:///var/run/docker.sock");
            var cache = System.Environment.GetEnvironmentVariable("HERMES_CACHE_DIR") is { Length: > 0 } dir
                ? dir
                : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache", "hermes");
            candidates.Add("unix://" + Path.Combine(cache, "docker", "docker.sock"));
        }

        var problems = new List<string>();
        foreach (var host in candidates)
        {
            if (host.StartsWith("unix://", StringComparison.Ordinal) && !File.Exists(host["unix://".Length..]))
            {
                problems.Add($"{host}: no socket");
                continue;
            }

            var version = await ExternalTool.RunAsync(docker, ["version", "--format", "{{.Server.Version}}"], environment: CommandEnvironment(host), timeout: TimeSpan.FromSeconds(20));
            if (version.ExitCode == 0)
            {
                return (host, "");
            }

            problems.Add($"{host}: {version.StandardError.Trim()}");
        }

        return (null, string.Join("; ", problems));
    }
}
