using System.Diagnostics;

namespace Hermes.Tests.N8n;

/// <summary>
/// One n8n and one Brevo stand-in for the whole test run, started by the first test that needs them
/// (<see cref="StartAsync"/>) and stopped after the last fixture of this namespace: starting n8n costs half a
/// minute (its migrations and four CLI starts in entrypoint.sh), a test a few seconds.
/// Tests that share it do not run at the same time (the stand-in's switches are global): <see cref="StartAsync"/> makes the
/// calling test the only one using the tier until its tear-down calls <see cref="EndTest"/>, while fixtures of other tiers
/// run beside it. Each test starts from <see cref="BrevoStandIn.Heal"/> and uses addresses of its own.
/// A set-up fixture without [Parallelizable] would put the whole namespace in NUnit's non-parallel shift (nothing else
/// runs beside it); Self | Fixtures lets it and its fixtures run beside the other tiers, each fixture's tests in order.
/// </summary>
[SetUpFixture]
[Parallelizable(ParallelScope.Self | ParallelScope.Fixtures)]
public sealed class N8nTier
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly SemaphoreSlim InUse = new(1, 1);
    private static string? _user;
    private static (RealN8n N8n, BrevoStandIn Brevo)? _running;
    private static string? _failure;

    /// <summary>The running n8n and its Brevo, started on first use; skips or fails the caller when n8n is not available.</summary>
    public static async Task<(RealN8n N8n, BrevoStandIn Brevo)> StartAsync()
    {
        var installation = await N8nInstallation.RequireAsync();
        await InUse.WaitAsync();
        _user = TestContext.CurrentContext.Test.ID;
        await Gate.WaitAsync();
        try
        {
            if (_failure is not null)
            {
                Assert.Fail("n8n did not start earlier in this run:\n" + _failure);
            }

            if (_running is null)
            {
                var brevo = await BrevoStandIn.StartAsync("xkeysib-stand-in-" + Guid.NewGuid().ToString("N"));
                try
                {
                    var clock = Stopwatch.StartNew();
                    TestContext.Progress.WriteLine("n8n: starting n8n with the shipped entrypoint.sh and workflow");
                    var n8n = await RealN8n.StartAsync(installation, brevo);
                    TestContext.Progress.WriteLine($"n8n: webhook published and answering after {clock.Elapsed.TotalSeconds:F1} s ({n8n.Address})");
                    _running = (n8n, brevo);
                }
                catch (Exception e)
                {
                    await brevo.DisposeAsync();
                    _failure = e.Message;
                    throw;
                }
            }

            _running.Value.Brevo.Heal();
            return _running.Value;
        }
        catch
        {
            EndTest();
            throw;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Lets the next test use the tier; called from the tear-down of every test that called <see cref="StartAsync"/>.</summary>
    public static void EndTest()
    {
        if (_user is not null && _user == TestContext.CurrentContext.Test.ID)
        {
            _user = null;
            InUse.Release();
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_running is { } running)
        {
            _running = null;
            await running.N8n.DisposeAsync();
            await running.Brevo.DisposeAsync();
        }
    }
}
