using Hermes.Tests.Infrastructure;

namespace Hermes.Tests;

/// <summary>
/// Starts the test PostgreSQL once for the whole run (a set-up fixture in the root namespace covers every test), and at
/// the end removes the native worker the run published (several fixtures use it).
/// </summary>
[SetUpFixture]
public sealed class TestRunSetUp
{
    [OneTimeSetUp]
    public Task StartAsync() => TestPostgres.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        Worker.NativeWorker.Clean();
        await TestPostgres.StopAsync();
    }
}
