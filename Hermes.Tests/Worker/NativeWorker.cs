using Hermes.Tests.Containers;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Worker;

/// <summary>
/// The native (Native AOT) worker, built as docs/outbox-worker.md, "The native worker", says (<c>dotnet publish
/// Hermes.Outbox.Worker -c Release -r linux-x64 -p:HermesNative=true</c>, the publish deploy/Dockerfile.worker runs).
/// Where a Docker engine answers it is taken out of the worker image the run builds anyway (<see cref="ShippedImages"/>).
/// Without one, or under <c>HERMES_PUBLISH_ON_HOST=1</c>, it is published here once per run into a folder of its own
/// (its own artifacts path, so the solution's build outputs are not touched while other tests run them), which needs
/// clang (Debian: <c>apt-get install clang zlib1g-dev</c>); without it the native tests skip, or fail under
/// <c>HERMES_REQUIRE_NATIVE=1</c>, which .ci/run sets.
/// </summary>
public static class NativeWorker
{
    public const string RequireVariable = "HERMES_REQUIRE_NATIVE";

    private static readonly PublishedHost Host = new("Hermes.Outbox.Worker", "HermesNative", "hermes-native");

    /// <summary>The published executable; skips (or, when required, fails) the calling test when it cannot be built.</summary>
    public static async Task<string> RequireAsync()
    {
        if (await PublishedHost.FromImagesAsync())
        {
            return Path.Combine(await ShippedImages.ExtractAsync("worker"), "Hermes.Outbox.Worker");
        }

        if (ExternalTool.Find("clang") is not null)
        {
            var (executable, failure) = await Host.PublishAsync();
            if (failure is not null)
            {
                // With the compiler there, a failed publish is a defect (an AOT or trim warning on the dispatcher's path is one).
                Assert.Fail(failure);
            }

            return executable!;
        }

        var message = "The native worker could not be built: clang is not on the PATH (Native AOT links with it): apt-get install clang zlib1g-dev";
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            Assert.Fail(message + $"\n({RequireVariable}=1: the native worker tests must run.)");
        }

        Assert.Ignore(message);
        return "";
    }

    /// <summary>Removes what this run published (at the end of the run: <see cref="TestRunSetUp"/>).</summary>
    public static void Clean() => Host.Clean();
}
