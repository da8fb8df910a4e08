using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Worker;

namespace Hermes.Tests.Observability;

/// <summary>
/// The built API and worker as their own processes, at the log levels they ship with (Production, no logging
/// setting): a stored lead and its delivery write no console line each — the database holds the lead and the attempt
/// log every delivery, and a line apiece cost the API a tenth of its throughput (docs/monitoring.md, "Logs") — while
/// the hosts' own lines (started, listening) are still written.
/// </summary>
public sealed class ShippedLogLevelTests : DatabaseTest
{
    // The level every host's appsettings.json and appsettings.Production.json give (ChildProcess quiets its hosts to
    // Warning unless told otherwise).
    private const string ShippedDefault = "Information";

    [Test]
    public async Task At_the_shipped_levels_a_lead_and_its_delivery_write_no_line_each()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = ChildProcess.Start("api", ChildProcess.HostAssembly("Hermes.Api"), new Dictionary<string, string>
        {
            ["ConnectionStrings__Hermes"] = ConnectionString,
            ["Logging__LogLevel__Default"] = ShippedDefault,
        });
        await using var worker = ChildProcess.Start("worker", ChildProcess.HostAssembly("Hermes.Outbox.Worker"), new Dictionary<string, string>
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString),
            ["N8N_WEBHOOK_URL"] = receiver.Url.ToString(),
            ["Logging__LogLevel__Default"] = ShippedDefault,
        }, "run");
        var apiAddress = await api.WaitListeningAsync(TimeSpan.FromSeconds(60));
        await worker.WaitListeningAsync(TimeSpan.FromSeconds(60));

        using (var http = new HttpClient { BaseAddress = apiAddress })
        using (var response = await http.PostAsJsonAsync("/api/leads", TestData.ValidForm(), JsonSerializerOptions.Web))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        }

        await receiver.WaitForAsync(1);
        var outboxId = await ScalarAsync<long>("SELECT id FROM hermes_outbox");
        await WaitUntilAsync(async () => await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", outboxId) == "delivered", "the delivery is recorded");

        // Stopped, so that everything they logged is on their consoles (the console logger writes from a queue).
        Assert.That(await api.TerminateAsync(TimeSpan.FromSeconds(30)), Is.Zero, api.Output);
        Assert.That(await worker.TerminateAsync(TimeSpan.FromSeconds(30)), Is.Zero, worker.Output);
        Assert.Multiple(() =>
        {
            Assert.That(api.Output, Does.Contain("Now listening on"), "the API's console is written (the host's listening line)");
            Assert.That(worker.Output, Does.Contain("[4000]"), "the worker's console is written (its start line):\n" + worker.Output);
            Assert.That(api.Output, Does.Not.Contain("[3001]"), "no line per stored lead");
            Assert.That(worker.Output, Does.Not.Contain("[4001]"), "no line per delivery");
        });
    }
}
