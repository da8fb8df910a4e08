using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Deploy;

/// <summary>
/// The wrk script of the intake benchmark (bench/api/lead.lua) cannot link a C# file, so its body is a copy of the
/// sample lead: this test keeps that copy equal to <see cref="TestData.ValidForm"/>, field for field.
/// </summary>
public sealed partial class BenchSampleLeadTests
{
    [Test]
    public void The_wrk_script_posts_the_sample_form_of_the_tests()
    {
        var script = RepositoryFiles.Read("bench", "api", "lead.lua");
        var body = WrkBody().Match(script);
        Assert.That(body.Success, Is.True, "lead.lua sets wrk.body = [[...]]");

        var posted = JsonNode.Parse(body.Groups[1].Value)!;
        var sample = JsonSerializer.SerializeToNode(TestData.ValidForm(), JsonSerializerOptions.Web)!.AsObject();
        foreach (var absent in sample.Where(static p => p.Value is null).Select(static p => p.Key).ToList())
        {
            sample.Remove(absent);
        }

        Assert.That(JsonNode.DeepEquals(posted, sample), Is.True, $"lead.lua posts\n{posted.ToJsonString()}\nbut the sample form is\n{sample.ToJsonString()}");
    }

    [GeneratedRegex(@"wrk\.body = \[\[(.*?)\]\]", RegexOptions.Singleline)]
    private static partial Regex WrkBody();
}
