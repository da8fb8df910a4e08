using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Cli;

/// <summary>What <c>migrate</c> did: the migrations applied or rolled back, and where the schema stands now.</summary>
public sealed record MigrationReport(string? Target, IReadOnlyList<string> Applied, IReadOnlyList<string> RolledBack, IReadOnlyList<string> Current, string Latest);

/// <summary>The idempotent SQL script of <c>migrate --script --json</c>.</summary>
public sealed record MigrationScript(string? Target, string Script);

/// <summary>What <c>erase --dry-run</c> would erase: the matching leads, and how many pending deliveries each would lose.</summary>
public sealed record ErasurePlan(bool DryRun, IReadOnlyList<PlannedErasure> Leads);

/// <summary>One lead of an <see cref="ErasurePlan"/>.</summary>
public sealed record PlannedErasure(long BackupId, string LeadId, bool AlreadyErased, long PendingDeliveries);

/// <summary>What <c>purge --dry-run</c> would delete; <see cref="OutboxIds"/> lists the first of the outbox rows.</summary>
public sealed record PurgePlan(bool DryRun, TimeSpan OlderThan, long OutboxRows, long AttemptLogs, IReadOnlyList<long> OutboxIds);

/// <summary>What <c>migrate --dry-run</c> would do, and for a roll-back the rows the schema holds now (null: no such table).</summary>
public sealed record MigrationPlan(bool DryRun, string? Target, IReadOnlyList<string> Apply, IReadOnlyList<string> RollBack, long? Leads, long? OutboxRows, long? AttemptLogs);

/// <summary>What <c>seed --dry-run</c> would write.</summary>
public sealed record SeedPlan(bool DryRun, int Leads, string Environment, string Database);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(MigrationReport))]
[JsonSerializable(typeof(MigrationScript))]
[JsonSerializable(typeof(MigrationPlan))]
[JsonSerializable(typeof(ErasurePlan))]
[JsonSerializable(typeof(PurgePlan))]
[JsonSerializable(typeof(SeedPlan))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
