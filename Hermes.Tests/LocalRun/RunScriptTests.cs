using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Hermes.Persistence.Local;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.LocalRun;

/// <summary>
/// The README's run command, end to end: <c>./run.sh</c> provisions its own PostgreSQL, starts the API and the
/// worker, a submitted lead reaches the development receiver, and Ctrl-C stops everything.
/// </summary>
[NonParallelizable]
public sealed class RunScriptTests
{
    [Test]
    public async Task Run_script_starts_hermes_delivers_a_lead_and_stops_on_ctrl_c()
    {
        var root = Deploy.RepositoryFiles.Root;
        // CI keeps this run's database (HERMES_RUN_TEST_DIR) and checks it with `doctor` afterwards: the
        // integrity gate runs against data real processes wrote, not against a fixture.
        var keptDir = Environment.GetEnvironmentVariable("HERMES_RUN_TEST_DIR");
        var localDir = string.IsNullOrWhiteSpace(keptDir) ? Path.Combine(Path.GetTempPath(), "hermes-run-" + Guid.NewGuid().ToString("N")[..8]) : keptDir;
        var apiUrl = $"http://127.0.0.1:{LocalProcesses.FreeLoopbackPort()}";
        var workerUrl = $"http://127.0.0.1:{LocalProcesses.FreeLoopbackPort()}";
        var adminUrl = $"http://127.0.0.1:{LocalProcesses.FreeLoopbackPort()}";
        var lines = new ConcurrentQueue<string>();
        // SIGINT back to its default first: a test run started in the background of a non-interactive shell inherits it
        // ignored, and bash can neither trap nor reset a signal ignored on entry (the Ctrl-C below would then do nothing).
        var start = new ProcessStartInfo("setsid", ["env", "--default-signal=INT", "bash", Path.Combine(root, "run.sh")])
        {
            WorkingDirectory = root,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var key in new[] { "DATABASE_URL", "ConnectionStrings__Hermes", "N8N_WEBHOOK_URL", "HERMES_WEBHOOK_SECRET", "HERMES_ADMIN_API_KEY", "ASPNETCORE_URLS", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT" })
        {
            start.Environment.Remove(key);
        }

        start.Environment["HERMES_LOCAL_DIR"] = localDir;
        start.Environment["HERMES_API_URL"] = apiUrl;
        start.Environment["HERMES_WORKER_URL"] = workerUrl;
        start.Environment["HERMES_ADMIN_URL"] = adminUrl;
        start.Environment["HERMES_SKIP_BUILD"] = "1"; // the test project has built every program already

        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Assert.That(await WaitForAsync(() => lines.Any(static l => l.StartsWith("Hermes is running", StringComparison.Ordinal)), TimeSpan.FromSeconds(120)),
                Is.True, "never ready:\n" + string.Join('\n', lines.TakeLast(40)));
            Assert.That(lines, Has.Some.Contains("development receiver"), "the banner names the development receiver");
            Assert.That(lines, Has.Some.Contains($"curl -i -X POST {apiUrl}/api/leads"), "the banner has a ready-to-paste curl");
            Assert.That(lines.Single(static l => l.TrimStart().StartsWith("n8n:", StringComparison.Ordinal)), Does.EndWith("(not n8n)"), "no stray characters after the n8n line");

            // The printed curl, pasted as it is into a shell.
            var printed = lines.Single(l => l.TrimStart().StartsWith($"curl -i -X POST {apiUrl}/api/leads", StringComparison.Ordinal)).Trim();
            var pasted = new ProcessStartInfo("bash", ["-c", printed]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using (var shell = Process.Start(pasted)!)
            {
                var answer = await shell.StandardOutput.ReadToEndAsync();
                await shell.WaitForExitAsync();
                Assert.That(answer, Does.StartWith("HTTP/1.1 201"), "the printed curl submits a lead:\n" + answer);
            }

            // The admin host runs beside them, with the Development key the banner prints.
            Assert.That(lines, Has.Some.Contains($"admin:   {adminUrl}").And.Some.Contains("Development admin key: "), "the banner names the admin host and its key");
            using (var admin = new HttpClient { BaseAddress = new Uri(adminUrl) })
            using (var signIn = await admin.GetAsync("/console/sign-in"))
            {
                Assert.That(signIn.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the console is served by the admin host");
            }

            using var http = new HttpClient { BaseAddress = new Uri(apiUrl) };
            using var response = await http.PostAsJsonAsync("/api/leads", TestData.ValidForm());
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var leadId = body.RootElement.GetProperty("leadId").GetString()!;

            Assert.That(await WaitForAsync(() => lines.Any(l => l.Contains($"DEVELOPMENT RECEIVER (not n8n): lead {leadId}", StringComparison.Ordinal) && l.Contains("signature verified", StringComparison.Ordinal)), TimeSpan.FromSeconds(30)),
                Is.True, "the development receiver never logged the delivery:\n" + string.Join('\n', lines.TakeLast(40)));

            Assert.That(lines.Where(static l => l.Contains("Npgsql.Command", StringComparison.Ordinal) || l.Contains("Executed DbCommand", StringComparison.Ordinal)), Is.Empty,
                "Development logs no SQL unless asked");
            Assert.That(lines, Has.Some.Contains($"Lead {leadId} stored as backup"), "one line per lead received");
            Assert.That(await WaitForAsync(() => lines.Any(l => l.Contains($"Delivered lead {leadId}", StringComparison.Ordinal)), TimeSpan.FromSeconds(10)), Is.True, "one line per delivery");

            var port = File.ReadAllText(Path.Combine(localDir, "pg", "port")).Trim();
            await using (var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Username=postgres;Database=hermes;Pooling=false"))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT status || ' ' || (brevo_contact_id LIKE 'dev-%') FROM hermes_leads WHERE lead_id = $1", connection) { Parameters = { new() { Value = leadId } } };
                Assert.That(await WaitForAsync(async () => (await command.ExecuteScalarAsync()) as string == "forwarded true", TimeSpan.FromSeconds(10)), Is.True);
            }

            // Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
            using (var kill = Process.Start("kill", ["-INT", "--", "-" + process.Id]))
            {
                await kill.WaitForExitAsync();
            }

            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(45));
            await process.WaitForExitAsync(exited.Token);
            Assert.That(lines, Has.Some.EqualTo("hermes: stopped"));
            Assert.That(IsListening(apiUrl) || IsListening(workerUrl) || IsListening(adminUrl), Is.False, "API, worker and admin host are gone");
            Assert.That(File.Exists(Path.Combine(localDir, "pg", "data", "postmaster.pid")), Is.False, "the local PostgreSQL is stopped");
            Assert.That(File.Exists(Path.Combine(localDir, "pg", "data", "PG_VERSION")), Is.True, "its data is kept for the next run");
        }
        finally
        {
            if (!process.HasExited)
            {
                using var kill = Process.Start("kill", ["-KILL", "--", "-" + process.Id]);
                await kill!.WaitForExitAsync();
            }

            await Hermes.Persistence.Local.LocalPostgresCluster.StopKeptAsync(Path.Combine(localDir, "pg"));
            if (string.IsNullOrWhiteSpace(keptDir))
            {
                Directory.Delete(localDir, recursive: true);
            }
        }
    }

    private static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout) => await WaitForAsync(() => Task.FromResult(condition()), timeout);

    private static async Task<bool> WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return await condition();
    }

    private static bool IsListening(string url)
    {
        var uri = new Uri(url);
        using var client = new TcpClient();
        try
        {
            client.Connect(uri.Host, uri.Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
