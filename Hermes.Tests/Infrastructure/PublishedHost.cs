using Hermes.Tests.Deploy;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// A host published once per test run as docs/http-api.md, "The published API", and docs/outbox-worker.md, "The native worker", say, <c>dotnet publish &lt;project&gt; -c Release -r linux-x64
/// -p:&lt;switch&gt;=true</c>, into a folder of this run's own (its own artifacts path too, so the solution's build
/// outputs are not touched while other tests run them). <see cref="Worker.NativeWorker"/> and <see cref="Api.PublishedApi"/>
/// decide what a missing toolchain or a failed publish means for their tests.
/// </summary>
public sealed class PublishedHost
{
    private readonly string _project;
    private readonly string _publishSwitch;
    private readonly string _root;
    private readonly Lazy<Task<(string? Executable, string? Failure)>> _published;

    public PublishedHost(string project, string publishSwitch, string folder)
    {
        _project = project;
        _publishSwitch = publishSwitch;
        _root = Path.Combine(Path.GetTempPath(), $"{folder}-{Environment.ProcessId}");
        _published = new(PublishOnceAsync);
    }

    /// <summary>
    /// Whether the published hosts come out of the images the run builds (<see cref="Containers.ShippedImages"/>): where a
    /// Docker engine answers, unless <c>HERMES_PUBLISH_ON_HOST=1</c> (the public images' build stage is Ubuntu's: a
    /// native executable built there may want a newer C library than an older host has).
    /// </summary>
    public static async Task<bool> FromImagesAsync() =>
        Environment.GetEnvironmentVariable("HERMES_PUBLISH_ON_HOST") != "1" && await Containers.DockerEngine.FindHostAsync() is not null;

    /// <summary>The published executable, or why the publish failed (its output); published at the first call only.</summary>
    public Task<(string? Executable, string? Failure)> PublishAsync() => _published.Value;

    /// <summary>Removes what this run published (at the end of the run: <see cref="TestRunSetUp"/>).</summary>
    public void Clean()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task<(string? Executable, string? Failure)> PublishOnceAsync()
    {
        var output = Path.Combine(_root, "out");
        var publish = await ExternalTool.RunAsync("dotnet",
            ["publish", RepositoryFiles.PathOf(_project, _project + ".csproj"), "-c", "Release", "-r", "linux-x64",
             $"-p:{_publishSwitch}=true", "--artifacts-path", Path.Combine(_root, "artifacts"), "-o", output, "-nologo"],
            timeout: TimeSpan.FromMinutes(25)); // beside the image builds on two cores a trimmed publish took over 10 minutes
        var executable = Path.Combine(output, _project);
        return publish.ExitCode == 0 && File.Exists(executable)
            ? (executable, null)
            : (null, $"dotnet publish -p:{_publishSwitch}=true failed:\n" + publish.Describe());
    }
}
