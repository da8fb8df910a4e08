using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Cli;

/// <summary>What <c>migrate</c> did: the migrations applied or rolled back, and where the schema stands now.</summary>
public sealed record MigrationReport(string? Target, IReadOnlyList<string> Applied, IReadOnlyList<string> RolledBack, IReadOnlyList<string> Current, string Latest);

/// <summary>The idempotent SQL script of <c>migrate --script --json</c>.</summary>
public sealed record MigrationScript(string? Target, string Script);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(MigrationReport))]
[JsonSerializable(typeof(MigrationScript))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
