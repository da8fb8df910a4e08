using Hermes.Tests.Containers;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Api;

/// <summary>
/// The API as its image runs it: self-contained, trimmed, ReadyToRun (<c>dotnet publish Hermes.Api -c Release -r
/// linux-x64 -p:HermesTrimmed=true</c>, the publish deploy/Dockerfile.api runs). Where a Docker engine answers it is taken
/// out of the image the run builds anyway (<see cref="ShippedImages"/>); without one, or under
/// <c>HERMES_PUBLISH_ON_HOST=1</c>, it is published here once per run (<see cref="PublishedHost"/>).
/// </summary>
public static class PublishedApi
{
    private static readonly PublishedHost Host = new("Hermes.Api", "HermesTrimmed", "hermes-published-api");

    /// <summary>The published executable; fails the calling test when the build fails (everything it needs is a NuGet package).</summary>
    public static async Task<string> RequireAsync()
    {
        if (await PublishedHost.FromImagesAsync())
        {
            return Path.Combine(await ShippedImages.ExtractAsync("api"), "Hermes.Api");
        }

        var (executable, failure) = await Host.PublishAsync();
        if (failure is not null)
        {
            Assert.Fail(failure);
        }

        return executable!;
    }

    /// <summary>Removes what this run published (at the end of the run: <see cref="TestRunSetUp"/>).</summary>
    public static void Clean() => Host.Clean();
}
