using System.Text.RegularExpressions;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Deploy;

/// <summary>The embeddable contact form sends exactly the fields of the domain's <c>LeadForm</c> (less what the page sets itself).</summary>
public sealed partial class ContactFormFieldsTests
{
    [Test]
    public void The_contact_form_collects_each_field_of_the_lead_form_and_has_an_input_for_each()
    {
        var script = RepositoryFiles.Read("deploy", "contact-form", "contact-form.js");
        var page = RepositoryFiles.Read("deploy", "contact-form", "index.html");
        var collected = new[] { "textFields", "checkboxes" }.SelectMany(list => NamesIn(script, list)).ToList();

        Assert.That(collected, Is.EqualTo(TestData.FormFields.Except(["captchaToken", "source"])), "the script's lists, in LeadForm's order");
        Assert.That(collected.Where(field => !page.Contains($"name=\"{field}\"", StringComparison.Ordinal)), Is.Empty, "an input on the page for each");
    }

    private static IEnumerable<string> NamesIn(string script, string list)
    {
        var match = Regex.Match(script, $@"const {list} = \[([^\]]*)\];");
        Assert.That(match.Success, Is.True, $"contact-form.js declares {list}");
        return QuotedName().Matches(match.Groups[1].Value).Select(static m => m.Groups[1].Value);
    }

    [GeneratedRegex("'([A-Za-z]+)'")]
    private static partial Regex QuotedName();
}
