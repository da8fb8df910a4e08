using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Persistence.Operations;

/// <summary>
/// The JSON shape of every operation's result, shared by the CLI's <c>--json</c> and the admin API: camelCase,
/// nulls written out so scripts see every field.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ReplayRequest))]
[JsonSerializable(typeof(ReplayResult))]
[JsonSerializable(typeof(PurgeResult))]
[JsonSerializable(typeof(DoctorReport))]
[JsonSerializable(typeof(ErasureRequest))]
[JsonSerializable(typeof(ErasureResult))]
[JsonSerializable(typeof(SeedResult))]
[JsonSerializable(typeof(OutboxStats))]
[JsonSerializable(typeof(LeadDetails))]
[JsonSerializable(typeof(OutboxPage))]
[JsonSerializable(typeof(LeadPage))]
[JsonSerializable(typeof(ActivityReport))]
[JsonSerializable(typeof(AuditPage))]
public sealed partial class OperationsJsonContext : JsonSerializerContext;
