using System.Diagnostics;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.Containers;

/// <summary>
/// The four images docker-compose.yml builds from deploy/Dockerfile.*, built once per test run by docker-compose itself
/// (so the compose stack's own <c>build</c> finds every layer in the engine's cache), one after the other in the order
/// the tests wait for them: the native worker (the native worker tests and the n8n tier), the trimmed API, the admin
/// host, the CLI. The published API and native worker tests run the executables taken out of these images
/// (<see cref="ExtractAsync"/>): what ships, built once, not published a second time on the host beside the image
/// builds. docs/development.md, "Images built once".
/// </summary>
public static class ShippedImages
{
    /// <summary>The images' tag: HERMES_VERSION in the stacks' .env (<see cref="ComposeStack"/>), so a developer's <c>:local</c> images are left alone.</summary>
    public const string Tag = "compose-test";

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(30); // the four, one native, beside the other tiers on two cores
    /// <summary>The compose services built from deploy/Dockerfile.*, in the order they are built.</summary>
    public static readonly IReadOnlyList<string> Services = ["worker", "api", "admin", "cli"];
    private static readonly Lazy<Task<IReadOnlyDictionary<string, Task<ToolResult>>>> Builds = new(StartAsync);
    private static readonly Dictionary<string, Lazy<Task<string>>> Extracted = Services.ToDictionary(
        static s => s, static s => new Lazy<Task<string>>(() => CopyOutAsync(s)));
    private static readonly string ExtractRoot = Path.Combine(Path.GetTempPath(), $"hermes-images-{Environment.ProcessId}");

    /// <summary>The image of compose service <paramref name="service"/>, built; skips (or fails) without an engine, fails when the build does.</summary>
    public static async Task<string> RequireAsync(string service)
    {
        await DockerEngine.RequireAsync();
        var builds = await Builds.Value;
        var build = await builds[service];
        Assert.That(build.ExitCode, Is.Zero,
            $"docker-compose build {service} failed. Where no registry can be reached, build the base images first: " +
            "deploy/images/build-local-base-images.sh (docs/deploy-compose.md, \"Local stand-ins for the base images\").\n" + Tail(build.StandardOutput + build.StandardError));
        return Image(service);
    }

    /// <summary>
    /// A folder holding the image's <c>/app</c> (its entry point's folder), copied out once per run; the executables
    /// built in the local stand-in images run on this machine (same C library).
    /// </summary>
    public static Task<string> ExtractAsync(string service) => Extracted[service].Value;

    public static string Image(string service) => $"hermes-{service}:{Tag}";

    /// <summary>Removes what <see cref="ExtractAsync"/> copied out (at the end of the run: <see cref="TestRunSetUp"/>).</summary>
    public static void Clean()
    {
        if (Directory.Exists(ExtractRoot))
        {
            Directory.Delete(ExtractRoot, recursive: true);
        }
    }

    private static async Task<IReadOnlyDictionary<string, Task<ToolResult>>> StartAsync()
    {
        var host = await DockerEngine.RequireAsync();
        var builder = await ComposeStack.PrepareAsync(host);
        var done = Services.ToDictionary(static s => s, static _ => new TaskCompletionSource<ToolResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        _ = Task.Run(async () =>
        {
            try
            {
                foreach (var service in Services)
                {
                    var clock = Stopwatch.StartNew();
                    var build = await builder.ComposeAsync(["build", service], BuildTimeout);
                    TestContext.Progress.WriteLine($"images: {Image(service)} built in {clock.Elapsed.TotalSeconds:F0} s (exit code {build.ExitCode})");
                    done[service].SetResult(build);
                }
            }
            catch (Exception e)
            {
                foreach (var pending in done.Values)
                {
                    pending.TrySetException(e);
                }
            }
            finally
            {
                builder.DeleteFolder();
            }
        });
        return done.ToDictionary(static p => p.Key, static p => p.Value.Task);
    }

    private static async Task<string> CopyOutAsync(string service)
    {
        var image = await RequireAsync(service);
        var host = await DockerEngine.RequireAsync();
        var environment = DockerEngine.CommandEnvironment(host);
        var container = $"hermes-extract-{service}-{Environment.ProcessId}";
        var target = Directory.CreateDirectory(Path.Combine(ExtractRoot, service)).FullName;
        var created = await ExternalTool.RunAsync("docker", ["create", "--name", container, image], environment: environment, timeout: TimeSpan.FromSeconds(60));
        Assert.That(created.ExitCode, Is.Zero, created.Describe());
        try
        {
            var copied = await ExternalTool.RunAsync("docker", ["cp", $"{container}:/app/.", target], environment: environment, timeout: TimeSpan.FromMinutes(2));
            Assert.That(copied.ExitCode, Is.Zero, copied.Describe());
        }
        finally
        {
            await ExternalTool.RunAsync("docker", ["rm", "--force", container], environment: environment, timeout: TimeSpan.FromSeconds(60));
        }

        return target;
    }

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;
}
