namespace Hermes.Tests.OperatorConsole;

/// <summary>Closes the shared browser once every browser test of the run is done.</summary>
[SetUpFixture]
public sealed class BrowserSetUp
{
    [OneTimeTearDown]
    public Task CloseAsync() => Browser.CloseAsync();
}
