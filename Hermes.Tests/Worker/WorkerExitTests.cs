using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Worker;

/// <summary>How the worker process ends when Docker or Kubernetes stops it: SIGTERM, a clean stop, exit code 0.</summary>
public sealed class WorkerExitTests : DatabaseTest
{
    [Test]
    public async Task Sigterm_stops_the_worker_process_with_exit_code_zero_and_no_unhandled_exception()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var worker = ChildProcess.Start("worker", ChildProcess.HostAssembly("Hermes.Outbox.Worker"), new Dictionary<string, string>
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString),
            ["N8N_WEBHOOK_URL"] = receiver.Url.ToString(),
            ["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = "5",
        });
        await worker.WaitListeningAsync(TimeSpan.FromSeconds(60));

        var exitCode = await worker.TerminateAsync(TimeSpan.FromSeconds(20));

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.Zero, worker.Output);
            Assert.That(worker.Output, Does.Not.Contain("Unhandled exception"));
        });
    }
}
