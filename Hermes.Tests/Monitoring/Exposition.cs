using System.Globalization;
using System.Text.RegularExpressions;

namespace Hermes.Tests.Monitoring;

/// <summary>One sample of a Prometheus text exposition.</summary>
public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>The samples of a Prometheus text exposition (what a scrape returned), for assertions.</summary>
public sealed partial class Exposition
{
    private readonly List<Sample> _samples;

    private Exposition(List<Sample> samples) => _samples = samples;

    public IReadOnlySet<string> Names => _samples.Select(static s => s.Name).ToHashSet(StringComparer.Ordinal);

    public static Exposition Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var match = SampleLine().Match(line);
            if (!match.Success)
            {
                throw new FormatException("Not a sample line: " + line);
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match label in Label().Matches(match.Groups["labels"].Value))
            {
                labels[label.Groups["key"].Value] = label.Groups["value"].Value.Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
            }

            samples.Add(new Sample(match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }

        return new Exposition(samples);
    }

    public IEnumerable<Sample> Series(string name) => _samples.Where(s => s.Name == name);

    /// <summary>The sum of the samples named <paramref name="name"/> that carry every given label; null when there are none.</summary>
    public double? Value(string name, params (string Key, string Value)[] labels)
    {
        var matching = Series(name).Where(s => labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).ToList();
        return matching.Count == 0 ? null : matching.Sum(static s => s.Value);
    }

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(\\.|[^""\\])*)""")]
    private static partial Regex Label();
}
