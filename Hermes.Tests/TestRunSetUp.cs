using Hermes.Tests.Infrastructure;

namespace Hermes.Tests;

/// <summary>
/// Starts the test PostgreSQL once for the whole run (a set-up fixture in the root namespace covers every test), and at
/// the end removes the native worker and the published API the run built or took out of its images (several fixtures use them).
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
        Api.PublishedApi.Clean();
        Containers.ShippedImages.Clean();
        await TestPostgres.StopAsync();
    }
}
