using System.Text.RegularExpressions;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.Persistence;

/// <summary>
/// EF Core's own tooling on the repository as a contributor has it: the pinned <c>dotnet-ef</c> restores from the
/// tool manifest, needs no database or host (the design-time factory), sees no model change the migrations lack
/// (the model snapshot), and scripts exactly what <c>worker migrate --script</c> prints.
/// </summary>
[Category("Tooling")]
[NonParallelizable]
public sealed class EfToolingTests
{
    private static readonly IReadOnlyDictionary<string, string?> NoDatabase = new Dictionary<string, string?>
    {
        ["DATABASE_URL"] = null,
        ["ConnectionStrings__Hermes"] = null,
    };

    [OneTimeSetUp]
    public async Task RestoreTheToolAsync()
    {
        var restore = await ExternalTool.RunAsync("dotnet", ["tool", "restore"], workingDirectory: RepositoryFiles.Root, timeout: TimeSpan.FromMinutes(3));
        Assert.That(restore.ExitCode, Is.Zero, restore.Describe());
    }

    [Test]
    public async Task The_model_has_no_change_that_the_migrations_lack()
    {
        var result = await Ef("migrations", "has-pending-model-changes");

        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.StandardOutput, Does.Contain("No changes have been made to the model"));
    }

    [Test]
    public async Task Migrations_list_names_every_migration_without_a_database()
    {
        var result = await Ef("migrations", "list", "--no-connect");

        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.StandardOutput, Does.Contain("20261122000100_InitialSchema").And.Contain("20261122000300_QueueStorageTuning"));
    }

    [Test]
    public async Task Ef_script_and_the_migrate_verb_print_the_same_idempotent_sql()
    {
        var ef = await Ef("migrations", "script", "--idempotent");
        var worker = await ExternalTool.RunAsync("dotnet", [Path.Combine(RepositoryFiles.Root, "Hermes.Cli", "bin", RepositoryFiles.BuildConfiguration, "net10.0", "hermes.dll"), "migrate", "--script"],
            environment: NoDatabase, workingDirectory: RepositoryFiles.Root, timeout: TimeSpan.FromMinutes(2));

        Assert.That(ef.ExitCode, Is.Zero, ef.Describe());
        Assert.That(worker.ExitCode, Is.Zero, worker.Describe());
        Assert.That(Normalise(worker.StandardOutput), Is.EqualTo(Normalise(ef.StandardOutput)));
        Assert.That(ef.StandardOutput, Does.Contain("CREATE TABLE hermes_leads").And.Contain("__EFMigrationsHistory"));
    }

    /// <summary>
    /// The API runs on the model compiled ahead in Hermes.Persistence/CompiledModel (AddHermesDbContext), so it must be
    /// exactly what the pinned tool generates from the model now. After a model change:
    /// <c>dotnet ef dbcontext optimize --project Hermes.Persistence --output-dir CompiledModel --namespace Hermes.Persistence.CompiledModel</c>,
    /// then delete the generated <c>HermesDbContextAssemblyAttributes.cs</c> (docs/development.md, "Changing the model").
    /// </summary>
    [Test]
    public async Task The_compiled_model_is_what_dbcontext_optimize_generates_from_the_model_now()
    {
        var output = Path.Combine(Path.GetTempPath(), "hermes-compiled-model-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = await Ef("dbcontext", "optimize", "--output-dir", output, "--namespace", "Hermes.Persistence.CompiledModel");
            Assert.That(result.ExitCode, Is.Zero, result.Describe());
            var generated = SourcesIn(output);
            generated.Remove("HermesDbContextAssemblyAttributes.cs");
            var committed = SourcesIn(RepositoryFiles.PathOf("Hermes.Persistence", "CompiledModel"));

            Assert.That(committed.Keys, Is.EquivalentTo(generated.Keys), "the compiled model's files");
            Assert.Multiple(() =>
            {
                foreach (var (name, text) in generated)
                {
                    Assert.That(committed.GetValueOrDefault(name), Is.EqualTo(text), $"{name} is stale: regenerate the compiled model (see this test's summary)");
                }
            });
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    // The tool gives every generated model a new random id; everything else must match.
    private static Dictionary<string, string> SourcesIn(string folder) => Directory.GetFiles(folder, "*.cs").ToDictionary(
        static f => Path.GetFileName(f),
        static f => Regex.Replace(File.ReadAllText(f), @"modelId: new Guid\(""[0-9a-f-]+""\)", "modelId: new Guid()"),
        StringComparer.Ordinal);

    private static Task<ToolResult> Ef(params string[] arguments) =>
        ExternalTool.RunAsync("dotnet", ["ef", .. arguments, "--project", "Hermes.Persistence", "--no-build", "--configuration", RepositoryFiles.BuildConfiguration],
            environment: NoDatabase, workingDirectory: RepositoryFiles.Root, timeout: TimeSpan.FromMinutes(3));

    // Line endings and the tool's own banner lines aside, the two must be the same SQL.
    private static string Normalise(string sql) => string.Join('\n', sql.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')
        .Select(static l => l.TrimEnd())
        .Where(static l => l.Length > 0 && !l.StartsWith("Build ", StringComparison.Ordinal)));
}
