using System.Text.RegularExpressions;
using Hermes.Tests.Faults;

namespace Hermes.Tests.Deploy;

/// <summary>
/// The benchmarks' own commands run, small, against the code as it is now. Their figures are recorded in bench/RESULTS.md
/// with the command that reproduces them, and nothing else runs those commands: when the attempt log was partitioned
/// by day, bench/console stopped at its first attempt of a day with no partition, and no one knew until the bench was
/// run again. Each bench is built on its own and run on the hosts the tests use (Debug builds).
/// </summary>
[Category("Bench")]
public sealed partial class BenchSmokeTests
{
    [Test]
    public async Task The_console_bench_times_every_page_against_a_seeded_database()
    {
        var bench = await BuildAsync("console", "Hermes.Bench.Console");
        var folder = Directory.CreateTempSubdirectory("hermes-bench-console-");
        try
        {
            // 300 leads, 5 measured requests a page: a run of the bench's whole path (seed, shape, plans, sign-in, pages),
            // with the bound on the slowest page lifted to a minute: this checks that the bench runs, not its figures.
            var run = await ExternalTool.RunAsync("dotnet", [bench, ChildProcess.HostAssembly("Hermes.Admin"), "300", "5", "60000"],
                workingDirectory: folder.FullName, timeout: TimeSpan.FromMinutes(5));
            var pages = PageRow().Matches(run.StandardOutput).Select(static m => (Page: m.Groups["page"].Value, Status: m.Groups["status"].Value)).ToList();

            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.Zero, run.Describe());
                Assert.That(run.StandardOutput, Does.Contain("300 leads, 300 outbox rows"), "what the bench seeded");
                Assert.That(pages.Select(static p => p.Page), Does.Contain("/console").And.Contain("/console/deliveries/replay?status=failed"), run.Describe());
                Assert.That(pages.Where(static p => p.Status != "200"), Is.Empty, "pages that did not answer 200");
                Assert.That(File.ReadAllText(Path.Combine(folder.FullName, "bench", "out", "console", "plans.txt")), Does.Contain("== DeliveryActivity leads per status"),
                    "the plans the bench writes");
            });
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Test]
    public async Task The_worker_bench_drains_a_backlog_with_no_duplicate()
    {
        var bench = await BuildAsync("worker", "Hermes.Bench.Worker");
        // One replica, one round, 2,000 rows: bench/RESULTS.md's drain command, small. From the repository's root, whose
        // deploy/postgres/postgresql.conf the bench's cluster runs with.
        var run = await ExternalTool.RunAsync("dotnet", [bench, ChildProcess.HostAssembly("Hermes.Outbox.Worker"), "replicas", "1", "1", "2000"],
            timeout: TimeSpan.FromMinutes(5));
        AssertDrained(run, DrainRow().Match(run.StandardOutput), "2,000–2,000");
    }

    [Test]
    public async Task The_report_bench_measures_start_up_memory_and_a_drain()
    {
        var bench = await BuildAsync("report", "Hermes.Bench.Report");
        // bench/RESULTS.md's target command, small: one start each, 2 s of submissions, a 2,000-row backlog; the Debug
        // hosts stand in for the shipped builds (bench/report/run.sh --framework is the same with Release builds).
        var run = await ExternalTool.RunAsync("dotnet",
            [bench, "--api", ChildProcess.HostAssembly("Hermes.Api"), "--worker", ChildProcess.HostAssembly("Hermes.Outbox.Worker"),
             "--hermes", Path.Combine(AppContext.BaseDirectory, "hermes.dll"),
             "--backlog", "2000", "--starts", "1", "--load-seconds", "2"],
            timeout: TimeSpan.FromMinutes(5));
        AssertDrained(run, DrainLine().Match(run.StandardOutput), "2000");
        Assert.That(run.StandardOutput, Does.Contain("CPU time per 1,000 rows: worker").And.Contain("API memory: idle VmRSS"), run.Describe());
    }

    /// <summary>The bench ended well and its drain's line says <paramref name="delivered"/> rows delivered, none twice.</summary>
    private static void AssertDrained(ToolResult run, Match drain, string delivered) => Assert.Multiple(() =>
    {
        Assert.That(run.ExitCode, Is.Zero, run.Describe());
        Assert.That(drain.Success, Is.True, "the drain's line in the bench's output:\n" + run.Describe());
        Assert.That(drain.Groups["delivered"].Value, Is.EqualTo(delivered), "rows delivered");
        Assert.That(drain.Groups["duplicates"].Value, Is.EqualTo("0"), "duplicates the receiver saw");
    });

    /// <summary>
    /// Builds bench/<paramref name="folder"/> (warnings are errors, as everywhere) and returns its assembly. Only the
    /// bench itself is compiled (<c>--no-dependencies</c>): it references the outputs of Hermes.Domain and
    /// Hermes.Persistence that the test run was built with, and leaves them untouched while other tests use them.
    /// </summary>
    private static async Task<string> BuildAsync(string folder, string project)
    {
        var build = await ExternalTool.RunAsync("dotnet",
            ["build", RepositoryFiles.PathOf("bench", folder, project + ".csproj"), "-c", RepositoryFiles.BuildConfiguration, "--no-dependencies", "-nologo", "-v", "q"],
            timeout: TimeSpan.FromMinutes(10));
        Assert.That(build.ExitCode, Is.Zero, $"bench/{folder} builds:\n" + build.Describe());
        return RepositoryFiles.PathOf("bench", folder, "bin", RepositoryFiles.BuildConfiguration, "net10.0", project + ".dll");
    }

    // A page's row in bench/console's table: | `page` | p50 | p95 | max | client p50 | client p95 | status |
    [GeneratedRegex(@"^\| `(?<page>[^`]+)` \|(?: [0-9.]+ \|){5} (?<status>\d+) \|$", RegexOptions.Multiline)]
    private static partial Regex PageRow();

    // bench/report's drain: "backlog drain: 2000 of 2000 rows delivered by one worker (…); … duplicates at the receiver 0"
    [GeneratedRegex(@"^backlog drain: (?<delivered>\d+) of 2000 rows delivered by one worker .*duplicates at the receiver (?<duplicates>\d+)$", RegexOptions.Multiline)]
    private static partial Regex DrainLine();

    // A round's row in bench/worker's replicas table: | round | replicas | drain | **rows/s** | CPU | rows per replica | duplicates |
    [GeneratedRegex(@"^\| 1 \| 1 \| [0-9.]+ s \| \*\*\d+\*\* \| [^|]+ \| (?<delivered>[0-9,]+–[0-9,]+) \| (?<duplicates>\d+) \|$", RegexOptions.Multiline)]
    private static partial Regex DrainRow();
}
