using System.Diagnostics;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Faults;

/// <summary>
/// A host started for a test dies with the process that owns it, even when that owner is killed outright and runs
/// no cleanup: here the owner is a stand-in (<c>sleep</c>) killed with SIGKILL.
/// </summary>
public sealed class ChildProcessWatchdogTests : DatabaseTest
{
    [Test]
    public async Task Api_started_for_an_owner_is_killed_when_the_owner_is_killed()
    {
        using var owner = Process.Start(new ProcessStartInfo("sleep", ["600"]) { UseShellExecute = false })!;
        await using var api = ChildProcess.StartOwnedBy(owner.Id, "api", ChildProcess.HostAssembly("Hermes.Api"), new Dictionary<string, string>
        {
            ["ConnectionStrings__Hermes"] = ConnectionString,
        });
        await api.WaitListeningAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.That(api.HasExited, Is.False, "the API runs while its owner does");

        owner.Kill();
        await owner.WaitForExitAsync();

        await WaitUntilAsync(() => Task.FromResult(api.HasExited), "the watchdog killed the API (within 15 s of its owner's death)");
    }
}
