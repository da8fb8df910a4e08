using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Api;

/// <summary>
/// The API published as its image runs it (<c>dotnet publish Hermes.Api -c Release -r linux-x64 -p:HermesTrimmed=true</c>:
/// self-contained, trimmed, ReadyToRun), once per test run.
/// </summary>
public static class PublishedApi
{
    private static readonly PublishedHost Host = new("Hermes.Api", "HermesTrimmed", "hermes-published-api");

    /// <summary>The published executable; fails the calling test when the publish fails (everything it needs is a NuGet package).</summary>
    public static async Task<string> RequireAsync()
    {
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
