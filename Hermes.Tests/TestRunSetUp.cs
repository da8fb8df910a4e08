using Hermes.Tests.Infrastructure;

namespace Hermes.Tests;

/// <summary>Starts the test PostgreSQL once for the whole run (a set-up fixture in the root namespace covers every test).</summary>
[SetUpFixture]
public sealed class TestRunSetUp
{
    [OneTimeSetUp]
    public Task StartAsync() => TestPostgres.StartAsync();

    [OneTimeTearDown]
    public Task StopAsync() => TestPostgres.StopAsync();
}
