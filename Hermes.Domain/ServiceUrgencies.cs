namespace Hermes.Domain;

/// <summary>The seed's service urgencies and the priority each maps to.</summary>
public static class ServiceUrgencies
{
    public const string Default = "not-urgent";

    /// <summary>Default allowed urgencies, in order of increasing urgency, with the seed's priority for each.</summary>
    public static readonly IReadOnlyDictionary<string, string> DefaultPriorities = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["not-urgent"] = "low",
        ["soon"] = "medium",
        ["urgent"] = "high",
        ["emergency"] = "critical",
    };

    /// <summary>The priority for an urgency; configured urgencies outside the default table are <c>medium</c>.</summary>
    public static string PriorityFor(string urgency) =>
        DefaultPriorities.TryGetValue(urgency, out var priority) ? priority : "medium";
}

/// <summary>The seed's company sizes.</summary>
public static class CompanySizes
{
    public static readonly IReadOnlyList<string> Default = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1000+"];
}
