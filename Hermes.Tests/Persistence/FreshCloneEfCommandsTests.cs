using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.Persistence;

/// <summary>
/// The EF Core commands docs/development.md prints under "Changing the model", run as printed on a copy of the
/// repository's tracked files that has never been restored or built (a fresh clone; and without <c>.git</c>, an
/// archive download too, which builds as version 0.0.0-unversioned): the commands come from the page itself, so the
/// page and the test cannot drift apart. <c>migrations add</c>, which writes files, is left out; the rest must work
/// with nothing restored first but what the page says to restore.
/// </summary>
[Category("Tooling")]
public sealed partial class FreshCloneEfCommandsTests
{
    [Test]
    public async Task The_documented_ef_commands_work_on_a_fresh_clone_as_printed()
    {
        var commands = DocumentedCommands();
        Assert.That(commands, Has.Some.StartsWith("dotnet tool restore").And.Some.Contains("migrations has-pending-model-changes"), "the page's commands");

        var clone = Directory.CreateTempSubdirectory("hermes-fresh-clone-");
        try
        {
            await CopyTrackedFilesAsync(clone.FullName);
            foreach (var command in commands)
            {
                var run = await ExternalTool.RunAsync("bash", ["-c", command], workingDirectory: clone.FullName, timeout: TimeSpan.FromMinutes(5),
                    environment: new Dictionary<string, string?> { ["DATABASE_URL"] = null, ["ConnectionStrings__Hermes"] = null });
                Assert.That(run.ExitCode, Is.Zero, $"{command}\n{run.Describe()}");
                if (command.Contains("has-pending-model-changes", StringComparison.Ordinal))
                {
                    Assert.That(run.StandardOutput, Does.Contain("No changes have been made to the model"), run.Describe());
                }
            }
        }
        finally
        {
            clone.Delete(recursive: true);
        }
    }

    /// <summary>The <c>dotnet …</c> lines of the page's "Changing the model" shell block, comments cut, <c>migrations add</c> left out.</summary>
    private static List<string> DocumentedCommands()
    {
        var page = RepositoryFiles.Read("docs/development.md");
        var section = page[page.IndexOf("## Changing the model", StringComparison.Ordinal)..];
        var block = ShellBlock().Match(section).Groups["body"].Value;
        return [.. block.Split('\n')
            .Select(static line => line.Split('#')[0].Trim())
            .Where(static line => line.StartsWith("dotnet ", StringComparison.Ordinal) && !line.Contains("migrations add", StringComparison.Ordinal))];
    }

    /// <summary>The files git tracks, as they are in the working tree, without anything a build or restore left.</summary>
    private static async Task CopyTrackedFilesAsync(string destination)
    {
        var files = await ExternalTool.RunAsync("git", ["ls-files", "-z"], workingDirectory: RepositoryFiles.Root);
        Assert.That(files.ExitCode, Is.Zero, files.Describe());
        foreach (var file in files.StandardOutput.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var source = RepositoryFiles.PathOf(file);
            if (!File.Exists(source))
            {
                continue;
            }

            var target = Path.Combine(destination, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
        }
    }

    [GeneratedRegex(@"```sh\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex ShellBlock();
}
