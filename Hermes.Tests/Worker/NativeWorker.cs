using Hermes.Tests.Deploy;

namespace Hermes.Tests.Worker;

/// <summary>
/// The native (Native AOT) worker, published once per test run exactly as the README says
/// (<c>dotnet publish Hermes.Outbox.Worker -c Release -r linux-x64 -p:HermesNative=true</c>), into a folder of its own
/// (its own artifacts path, so the solution's build outputs are not touched while other tests run them). Needs clang
/// (Debian: <c>apt-get install clang zlib1g-dev</c>); without it the native tests skip, or fail under
/// <c>HERMES_REQUIRE_NATIVE=1</c>, which .ci/run sets.
/// </summary>
public static class NativeWorker
{
    public const string RequireVariable = "HERMES_REQUIRE_NATIVE";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly string Root = Path.Combine(Path.GetTempPath(), $"hermes-native-{Environment.ProcessId}");
    private static string? _executable;
    private static string? _unavailable;
    private static string? _failure;

    /// <summary>The published executable; skips (or, when required, fails) the calling test when it cannot be built.</summary>
    public static async Task<string> RequireAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_executable is null && _unavailable is null && _failure is null)
            {
                (_executable, _unavailable, _failure) = await PublishAsync();
            }
        }
        finally
        {
            Gate.Release();
        }

        if (_executable is not null)
        {
            return _executable;
        }

        if (_failure is not null)
        {
            // With the compiler there, a failed publish is a defect (an AOT or trim warning on the dispatcher's path is one).
            Assert.Fail(_failure);
        }

        var message = $"The native worker could not be built: {_unavailable}";
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            Assert.Fail(message + $"\n({RequireVariable}=1: the native worker tests must run.)");
        }

        Assert.Ignore(message);
        return "";
    }

    /// <summary>Removes what this run published (at the end of the run: <see cref="TestRunSetUp"/>).</summary>
    public static void Clean()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    private static async Task<(string? Executable, string? Unavailable, string? Failure)> PublishAsync()
    {
        if (ExternalTool.Find("clang") is null)
        {
            return (null, "clang is not on the PATH (Native AOT links with it): apt-get install clang zlib1g-dev", null);
        }

        var output = Path.Combine(Root, "out");
        var publish = await ExternalTool.RunAsync("dotnet",
            ["publish", RepositoryFiles.PathOf("Hermes.Outbox.Worker", "Hermes.Outbox.Worker.csproj"), "-c", "Release", "-r", "linux-x64",
             "-p:HermesNative=true", "--artifacts-path", Path.Combine(Root, "artifacts"), "-o", output, "-nologo"],
            timeout: TimeSpan.FromMinutes(10));
        var executable = Path.Combine(output, "Hermes.Outbox.Worker");
        return publish.ExitCode == 0 && File.Exists(executable)
            ? (executable, null, null)
            : (null, null, "dotnet publish -p:HermesNative=true failed:\n" + publish.Describe());
    }
}
