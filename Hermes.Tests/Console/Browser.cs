using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

/// <summary>
/// One headless Chromium for the whole test run: Debian's <c>chromium</c> package driven by Playwright (its own browser
/// download is not used). Without the browser the browser tests are skipped with the install command, unless
/// <c>HERMES_REQUIRE_BROWSER=1</c> (as in CI), which makes them fail instead.
/// </summary>
public static class Browser
{
    public const string InstallCommand = "apt-get install -y chromium";
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static IPlaywright? _playwright;
    private static IBrowser? _browser;

    public static string ExecutablePath => Environment.GetEnvironmentVariable("HERMES_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static bool Required => Environment.GetEnvironmentVariable("HERMES_REQUIRE_BROWSER") == "1";

    /// <summary>The shared browser; skips (or, when required, fails) the calling test when Chromium is not installed.</summary>
    public static async Task<IBrowser> GetAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            var reason = $"Chromium is not installed at {ExecutablePath}: {InstallCommand} (or set HERMES_CHROMIUM).";
            if (Required)
            {
                Assert.Fail(reason + " HERMES_REQUIRE_BROWSER=1 makes this a failure.");
            }

            Assert.Ignore(reason);
        }

        await Gate.WaitAsync();
        try
        {
            if (_browser is { IsConnected: true })
            {
                return _browser;
            }

            _playwright ??= await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = ExecutablePath, Args = ["--no-sandbox"], Headless = true });
            return _browser;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Closes the browser at the end of the run (called by the run's set-up fixture).</summary>
    public static async Task CloseAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
            _browser = null;
        }

        _playwright?.Dispose();
        _playwright = null;
    }
}
