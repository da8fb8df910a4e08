using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Persistence.Local;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.N8n;

/// <summary>
/// A real n8n (<see cref="N8nInstallation"/>) started the way compose starts it: the shipped
/// deploy/n8n/entrypoint.sh, unchanged, imports the credentials and the shipped workflow, publishes it and execs
/// <c>n8n start</c>. What differs from compose is only what a test machine has to differ in: PostgreSQL is a
/// database on the test cluster, Code nodes run in n8n's internal task runner (a real runner process, no sidecar),
/// n8n listens on 127.0.0.1 on a free port, and BREVO_API_URL points at a <see cref="BrevoStandIn"/>.
/// The whole process group dies with the test run (a watchdog, as for the other test hosts).
/// </summary>
public sealed class RealN8n : IAsyncDisposable
{
    public const string AuthHeaderName = "X-Hermes-Auth";
    public const string WorkflowId = "HermesLeadIntake";

    private readonly StringBuilder _output = new();
    private readonly DirectoryInfo _sandbox;
    private Process? _process;

    private RealN8n(DirectoryInfo sandbox, Uri address, string databaseConnectionString, int listId)
    {
        _sandbox = sandbox;
        Address = address;
        DatabaseConnectionString = databaseConnectionString;
        BrevoListId = listId;
    }

    /// <summary>The whsec_ secret n8n verifies with (HERMES_WEBHOOK_SECRET); give it to the worker.</summary>
    public string Secret { get; } = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The Header Auth credential's value (HERMES_N8N_AUTH_HEADER_VALUE).</summary>
    public string AuthHeaderValue { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>The Brevo list consenting contacts go on (BREVO_LIST_ID).</summary>
    public int BrevoListId { get; }

    public Uri Address { get; }

    /// <summary>The production URL of the published workflow: what N8N_WEBHOOK_URL says in compose.</summary>
    public Uri WebhookUrl => new(Address, "/webhook/hermes-lead");

    /// <summary>n8n's own database (on the test cluster).</summary>
    public string DatabaseConnectionString { get; }

    /// <summary>From the start of entrypoint.sh to the published webhook answering.</summary>
    public TimeSpan StartTime { get; private set; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<RealN8n> StartAsync(string installation, BrevoStandIn brevo, int listId = 7)
    {
        var database = await TestPostgres.CreateDatabaseAsync(migrated: false);
        var db = new NpgsqlConnectionStringBuilder(database);
        var sandbox = Directory.CreateTempSubdirectory("hermes-n8n-");
        var workflows = Directory.CreateDirectory(Path.Combine(sandbox.FullName, "workflows")).FullName;
        File.Copy(RepositoryFiles.PathOf("deploy", "n8n", "hermes-workflow.json"), Path.Combine(workflows, "hermes-workflow.json"));
        var port = LocalProcesses.FreeLoopbackPort();
        var address = new Uri($"http://127.0.0.1:{port}/");

        // setsid: n8n, the commands entrypoint.sh runs and the task runner n8n starts share one process group,
        // which teardown and the watchdog end as a whole.
        var start = new ProcessStartInfo("setsid", ["sh", RepositoryFiles.PathOf("deploy", "n8n", "entrypoint.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = sandbox.FullName,
        };
        foreach (var key in start.Environment.Keys.Where(static k => k.StartsWith("N8N_", StringComparison.Ordinal) || k.StartsWith("DB_", StringComparison.Ordinal) || k.StartsWith("BREVO_", StringComparison.Ordinal) || k.StartsWith("HERMES_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        var n8n = new RealN8n(sandbox, address, database, listId);
        var environment = new Dictionary<string, string>
        {
            ["PATH"] = N8nInstallation.PathWith(installation),
            // As in docker-compose.yml's n8n service.
            ["N8N_ENCRYPTION_KEY"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)),
            ["N8N_HOST"] = "127.0.0.1",
            ["WEBHOOK_URL"] = address.ToString(),
            ["GENERIC_TIMEZONE"] = "UTC",
            ["N8N_SECURE_COOKIE"] = "false",
            ["N8N_DIAGNOSTICS_ENABLED"] = "false",
            ["N8N_PERSONALIZATION_ENABLED"] = "false",
            ["N8N_BLOCK_ENV_ACCESS_IN_NODE"] = "false",
            ["NODE_FUNCTION_ALLOW_BUILTIN"] = "crypto",
            ["HERMES_WEBHOOK_SECRET"] = n8n.Secret,
            ["HERMES_N8N_AUTH_HEADER_NAME"] = AuthHeaderName,
            ["HERMES_N8N_AUTH_HEADER_VALUE"] = n8n.AuthHeaderValue,
            ["BREVO_API_KEY"] = brevo.ApiKey,
            ["BREVO_LIST_ID"] = listId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // What a test machine changes.
            ["BREVO_API_URL"] = brevo.Address.ToString(),
            ["HERMES_N8N_WORKFLOWS"] = workflows,
            ["N8N_USER_FOLDER"] = sandbox.FullName,
            ["N8N_LISTEN_ADDRESS"] = "127.0.0.1",
            ["N8N_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["N8N_RUNNERS_MODE"] = "internal",
            ["N8N_RUNNERS_BROKER_PORT"] = LocalProcesses.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["N8N_VERSION_NOTIFICATIONS_ENABLED"] = "false",
            ["N8N_TEMPLATES_ENABLED"] = "false",
            ["DB_TYPE"] = "postgresdb",
            ["DB_POSTGRESDB_HOST"] = db.Host!,
            ["DB_POSTGRESDB_PORT"] = db.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DB_POSTGRESDB_DATABASE"] = db.Database!,
            ["DB_POSTGRESDB_USER"] = db.Username ?? "postgres",
            ["DB_POSTGRESDB_PASSWORD"] = db.Password ?? "",
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var clock = Stopwatch.StartNew();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => n8n.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => n8n.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using (LocalProcesses.StartDetachedShell(
            $"exec </dev/null >/dev/null 2>&1; while kill -0 {process.Id}; do kill -0 {Environment.ProcessId} || {{ kill -9 -{process.Id}; exit 0; }}; sleep 1; done"))
        {
        }

        n8n._process = process;
        try
        {
            await n8n.WaitForWebhookAsync(process, TimeSpan.FromMinutes(4));
        }
        catch
        {
            await n8n.DisposeAsync();
            throw;
        }

        n8n.StartTime = clock.Elapsed;
        return n8n;
    }

    /// <summary>What n8n remembers per webhook-id (the workflow's static data: "Remember delivery").</summary>
    public async Task<Dictionary<string, string>> DeliveryMemoryAsync()
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""SELECT "staticData"::text FROM workflow_entity WHERE id = $1""", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = WorkflowId });
        var text = await command.ExecuteScalarAsync() as string;
        var delivered = text is null ? null : JsonNode.Parse(text)?["global"]?["hermesDelivered"]?.AsObject();
        return delivered?.ToDictionary(static p => p.Key, static p => p.Value!["brevoContactId"]!.GetValue<string>()) ?? [];
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                Signal(_process, "TERM");
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    // n8n did not stop in time: kill below.
                }
            }

            Signal(_process, "KILL");
            _process.Dispose();
            _process = null;
        }

        await TestPostgres.DropDatabaseAsync(DatabaseConnectionString);
        try
        {
            _sandbox.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a dying process; the temp folder is cleaned by the system.
        }
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", "--", $"-{process.Id}"]) { UseShellExecute = false, RedirectStandardError = true });
        kill?.WaitForExit();
    }

    private async Task WaitForWebhookAsync(Process process, TimeSpan limit)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        HttpStatusCode? last = null;
        while (clock.Elapsed < limit)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"n8n exited with {process.ExitCode} before its webhook answered:\n{Tail()}");
            }

            try
            {
                // Without the Header Auth header the published webhook answers 403; before it is registered, 404.
                using var response = await http.PostAsync(WebhookUrl, new StringContent("{}", Encoding.UTF8, "application/json"));
                last = response.StatusCode;
                if (last == HttpStatusCode.Forbidden)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Busy starting.
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"n8n's webhook did not answer 403 within {limit} (last: {last?.ToString() ?? "no answer"}):\n{Tail()}");
    }

    public string Tail()
    {
        var text = Output;
        return text.Length <= 6000 ? text : text[^6000..];
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 500_000)
            {
                _output.AppendLine(line);
            }
        }
    }
}
