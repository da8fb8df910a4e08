using System.Text.RegularExpressions;
using Hermes.Tests.Faults;

namespace Hermes.Tests.Deploy;

/// <summary>
/// The benchmarks' own commands run, small, against the code as it is now. Their figures are recorded in bench/RESULTS.md
/// with the command that reproduces them, and nothing else runs those commands: when the attempt log was partitioned
/// by day, bench/console stopped at its first attempt of a day with no partition, and no one knew until the bench was
/// run again. Each bench is built into a folder of this run's own (its own artifacts path, so the solution's build
/// outputs are not touched while other tests run them) and run on the Debug hosts the tests use.
/// </summary>
[Category("Bench")]
public sealed partial class BenchSmokeTests
{
    private static readonly string Artifacts = Path.Combine(Path.GetTempPath(), $"hermes-bench-smoke-{Environment.ProcessId}");

    [OneTimeTearDown]
    public void RemoveArtifacts()
    {
        if (Directory.Exists(Artifacts))
        {
            Directory.Delete(Artifacts, recursive: true);
        }
    }

    [Test]
    public async Task The_console_bench_times_every_page_against_a_seeded_database()
    {
        var bench = await BuildAsync("console", "Hermes.Bench.Console");
        var folder = Directory.CreateTempSubdirectory("hermes-bench-console-");
        try
        {
            // 300 leads, 5 measured requests a page: a run of the bench's whole path (seed, shape, plans, sign-in, pages).
            var run = await ExternalTool.RunAsync("dotnet", [bench, ChildProcess.HostAssembly("Hermes.Admin"), "300", "5"],
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
        var round = DrainRow().Match(run.StandardOutput);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Describe());
            Assert.That(round.Success, Is.True, "the round's line in the bench's table:\n" + run.Describe());
            Assert.That(round.Groups["rows"].Value, Is.EqualTo("2,000–2,000"), "rows the one replica delivered");
            Assert.That(round.Groups["duplicates"].Value, Is.EqualTo("0"), "duplicates the receiver saw");
        });
    }

    /// <summary>Builds bench/<paramref name="folder"/> (Debug, warnings are errors as everywhere) and returns its assembly.</summary>
    private static async Task<string> BuildAsync(string folder, string project)
    {
        var output = Path.Combine(Artifacts, folder);
        var build = await ExternalTool.RunAsync("dotnet",
            ["build", RepositoryFiles.PathOf("bench", folder, project + ".csproj"), "-c", "Debug", "--artifacts-path", Path.Combine(Artifacts, "artifacts"), "-o", output, "-nologo", "-v", "q"],
            timeout: TimeSpan.FromMinutes(10));
        Assert.That(build.ExitCode, Is.Zero, $"bench/{folder} builds:\n" + build.Describe());
        return Path.Combine(output, project + ".dll");
    }

    // A page's row in bench/console's table: | `page` | p50 | p95 | max | client p50 | client p95 | status |
    [GeneratedRegex(@"^\| `(?<page>[^`]+)` \|(?: [0-9.]+ \|){5} (?<status>\d+) \|$", RegexOptions.Multiline)]
    private static partial Regex PageRow();

    // A round's row in bench/worker's replicas table: | round | replicas | drain | **rows/s** | CPU | rows per replica | duplicates |
    [GeneratedRegex(@"^\| 1 \| 1 \| [0-9.]+ s \| \*\*\d+\*\* \| [^|]+ \| (?<rows>[0-9,]+–[0-9,]+) \| (?<duplicates>\d+) \|$", RegexOptions.Multiline)]
    private static partial Regex DrainRow();
}
