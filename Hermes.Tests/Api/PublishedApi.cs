using Hermes.Tests.Deploy;

namespace Hermes.Tests.Api;

/// <summary>
/// The API published as its image runs it (<c>dotnet publish -r linux-x64 -p:HermesTrimmed=true</c>: self-contained,
/// trimmed, ReadyToRun), once per test run, into a folder of this run's own.
/// </summary>
public static class PublishedApi
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly string Root = Path.Combine(Path.GetTempPath(), $"hermes-published-api-{Environment.ProcessId}");
    private static string? _executable;
    private static string? _failure;

    /// <summary>The published executable; fails the calling test when the publish fails (everything it needs is a NuGet package).</summary>
    public static async Task<string> RequireAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_executable is null && _failure is null)
            {
                var output = Path.Combine(Root, "out");
                var publish = await ExternalTool.RunAsync("dotnet",
                    ["publish", RepositoryFiles.PathOf("Hermes.Api", "Hermes.Api.csproj"), "-c", "Release", "-r", "linux-x64",
                     "-p:HermesTrimmed=true", "--artifacts-path", Path.Combine(Root, "artifacts"), "-o", output, "-nologo"],
                    timeout: TimeSpan.FromMinutes(10));
                var executable = Path.Combine(output, "Hermes.Api");
                if (publish.ExitCode == 0 && File.Exists(executable))
                {
                    _executable = executable;
                }
                else
                {
                    _failure = "dotnet publish -p:HermesTrimmed=true failed:\n" + publish.Describe();
                }
            }
        }
        finally
        {
            Gate.Release();
        }

        if (_failure is not null)
        {
            Assert.Fail(_failure);
        }

        return _executable!;
    }

    /// <summary>Removes what this run published (at the end of the run: <see cref="TestRunSetUp"/>).</summary>
    public static void Clean()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
