namespace Hermes.Tests.OperatorConsole;

/// <summary>
/// Closes the shared browser once every browser test of the run is done. [Parallelizable] keeps the namespace out of
/// NUnit's non-parallel shift (a set-up fixture without it runs its namespace alone): the browser tests run beside the
/// other tiers, each fixture's tests in order.
/// </summary>
[SetUpFixture]
[Parallelizable(ParallelScope.Self | ParallelScope.Fixtures)]
public sealed class BrowserSetUp
{
    [OneTimeTearDown]
    public Task CloseAsync() => Browser.CloseAsync();
}
