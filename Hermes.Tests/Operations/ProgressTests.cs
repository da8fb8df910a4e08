using System.Diagnostics;
using System.Text.Json;
using Hermes.Cli;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Operations;

/// <summary>The progress line's text (<see cref="CliProgress.Format"/>), a pure function.</summary>
public sealed class ProgressLineTests
{
    [TestCase(12_000L, 1_000_000L, 3.0, "seed: 12,000 / 1,000,000 rows (1.2%), 4,000 rows/s, 4m 7s left")]
    [TestCase(1_000_000L, 1_000_000L, 250.0, "seed: 1,000,000 / 1,000,000 rows (100.0%), 4,000 rows/s, done")]
    [TestCase(0L, 10L, 0.0, "seed: 0 / 10 rows (0.0%), … rows/s, time left not known yet")]
    [TestCase(10_000L, null, 2.0, "seed: 10,000 rows, 5,000 rows/s, 2s so far")]
    public void Rows_done_against_a_total_give_rate_and_time_left(long done, long? total, double seconds, string expected) =>
        Assert.That(CliProgress.Format("seed", done, total, TimeSpan.FromSeconds(seconds)), Is.EqualTo(expected));

    [Test]
    public void Work_that_cannot_count_its_rows_shows_the_time_passed()
    {
        Assert.That(CliProgress.Format("replay", null, 120_000, TimeSpan.FromSeconds(12)), Is.EqualTo("replay: 120,000 rows, 12s so far"));
        Assert.That(CliProgress.Format("replay", null, null, TimeSpan.FromSeconds(75)), Is.EqualTo("replay: 1m 15s so far"));
    }
}

/// <summary>Progress on stderr only where a person watches a terminal: never under a script, never with --json.</summary>
public sealed class ProgressTests : OperationsTest
{
    [Test]
    public async Task Off_a_terminal_a_long_verb_prints_no_progress()
    {
        var run = await CliAsync("seed", "--count", "2500", "--yes");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Error, Is.Empty);
        Assert.That(run.Output, Does.Not.Contain("rows/s").And.Not.Contain("\r"));
    }

    [Test]
    public async Task On_a_terminal_seed_shows_rows_done_of_the_total_on_stderr_but_not_with_json()
    {
        var watched = await TerminalAsync("seed", "--count", "2500", "--yes");
        var json = await TerminalAsync("seed", "--count", "2500", "--yes", "--json");

        Assert.That(watched.ExitCode, Is.Zero, watched.ToString());
        Assert.That(watched.Error, Does.Contain("\rseed: 2,500 / 2,500 rows (100.0%)").And.Contain("rows/s, done"));
        Assert.That(watched.Output, Does.Not.Contain("rows/s"), "stdout keeps the result only");
        Assert.That(json.ExitCode, Is.Zero, json.ToString());
        Assert.That(json.Error, Is.Empty);
        Assert.That(JsonDocument.Parse(json.Output).RootElement.GetProperty("leads").GetInt32(), Is.EqualTo(2500));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(5000));
    }

    [Test]
    public async Task On_a_terminal_purge_counts_against_its_plan_and_replay_shows_its_rows()
    {
        var now = DateTimeOffset.UtcNow;
        await AddLeadAsync(Hermes.Domain.OutboxStatus.Delivered, createdAt: now.AddDays(-8));
        await AddLeadAsync(Hermes.Domain.OutboxStatus.Failed);

        var purge = await TerminalAsync("purge", "--yes");
        var replay = await TerminalAsync("replay", "--yes");

        Assert.That(purge.Error, Does.Contain("\rpurge: 2 / 2 rows (100.0%)"), purge.ToString());
        Assert.That(replay.Error, Does.Contain("\rreplay: 1 rows"), replay.ToString());
        Assert.That(await OutboxStatusAsync(await ScalarAsync<long>("SELECT id FROM hermes_outbox")), Is.EqualTo("pending"));
    }

    /// <summary>The real executable on a pseudo-terminal (util-linux <c>script</c>), as an operator's shell runs it.</summary>
    [Test]
    public async Task The_executable_on_a_pseudo_terminal_shows_progress_and_through_a_pipe_does_not()
    {
        if (!File.Exists("/usr/bin/script"))
        {
            Assert.Ignore("util-linux script is not installed");
        }

        var hermes = Path.Combine(AppContext.BaseDirectory, "hermes.dll");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var command = $"'{dotnet}' '{hermes}' seed --count 3000 --yes";

        var onTerminal = await RunAsync("/usr/bin/script", ["-qec", command, "/dev/null"]);
        var piped = await RunAsync(dotnet, [hermes, "seed", "--count", "3000", "--yes"]);

        Assert.That(onTerminal.ExitCode, Is.Zero, onTerminal.ToString());
        Assert.That(onTerminal.Output, Does.Contain("seed: 3,000 / 3,000 rows (100.0%)").And.Contain("Seeded 3000 leads"));
        Assert.That(piped.ExitCode, Is.Zero, piped.ToString());
        Assert.That(piped.Output + piped.Error, Does.Not.Contain("rows/s"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(6000));
    }

    private async Task<CliRun> RunAsync(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var key in new[] { "DATABASE_URL", "DATABASE_DIRECT_URL", "POSTGRES_URL_NON_POOLING", "ASPNETCORE_ENVIRONMENT" })
        {
            start.Environment.Remove(key);
        }

        start.Environment["ConnectionStrings__Hermes"] = ConnectionString;
        start.Environment["DOTNET_ENVIRONMENT"] = "Staging";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return new CliRun(process.ExitCode, await output, await error);
    }

    private async Task<CliRun> TerminalAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await OperatorCli.RunAsync(args, output, error, CliSettings(), CancellationToken.None, new CliTerminal(Input: null, ErrorIsTerminal: true));
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}
