using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using OperatorCli = Hermes.Cli.OperatorCli;

namespace Hermes.Tests.Deploy;

/// <summary>
/// The documentation holds: no dead link between the markdown files, no code comment citing a file or a section that
/// does not exist, a README a newcomer can read, a runbook behind every alert's absolute <c>runbook_url</c>, and no
/// <c>hermes</c> command printed in the docs that the CLI would refuse.
/// </summary>
public sealed partial class DocumentationTests
{
    private const int ReadmeMaxLines = 250;

    private static readonly string[] SkippedFolders = ["bin", "obj", "node_modules", "TestResults", ".git", ".hermes"];

    private static readonly string[] CodeExtensions = [".cs", ".sh", ".yml", ".yaml", ".csproj", ".props", ".js", ".py", ".json"];

    /// <summary>Every markdown file of the repository, relative to its root, with '/' separators.</summary>
    private static IReadOnlyList<string> MarkdownFiles() => RepositoryFilesWhere(static name => name.EndsWith(".md", StringComparison.Ordinal));

    /// <summary>The docs a reader follows: the README and everything under docs/.</summary>
    private static IReadOnlyList<string> Docs() =>
        MarkdownFiles().Where(static f => f == "README.md" || f.StartsWith("docs/", StringComparison.Ordinal)).ToList();

    [Test]
    public void Every_relative_link_between_markdown_files_reaches_a_file_and_a_heading()
    {
        var dead = new List<string>();
        foreach (var file in MarkdownFiles())
        {
            foreach (var target in Links(ProseOf(RepositoryFiles.Read(file))))
            {
                if (target.StartsWith('#') is false && (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)))
                {
                    continue;
                }

                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var path = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? null : Uri.UnescapeDataString(target[(hash + 1)..]);
                var resolved = path.Length == 0 ? file : Normalise(Path.Combine(Path.GetDirectoryName(file) ?? "", Uri.UnescapeDataString(path)));
                var full = RepositoryFiles.PathOf(resolved);
                if (!File.Exists(full) && !Directory.Exists(full))
                {
                    dead.Add($"{file}: ({target}) — no file {resolved}");
                }
                else if (anchor is not null && resolved.EndsWith(".md", StringComparison.Ordinal) && !Anchors(RepositoryFiles.Read(resolved)).Contains(anchor))
                {
                    dead.Add($"{file}: ({target}) — no heading of {resolved} has the anchor #{anchor}");
                }
            }
        }

        Assert.That(dead, Is.Empty, string.Join("\n", dead));
    }

    [Test]
    public void Every_file_and_section_a_code_comment_or_a_doc_cites_exists()
    {
        var files = RepositoryFilesWhere(static name =>
                CodeExtensions.Contains(Path.GetExtension(name)) || Path.GetFileName(name).StartsWith("Dockerfile", StringComparison.Ordinal) || name == ".ci/run")
            .Where(static f => f != "Hermes.Tests/Deploy/DocumentationTests.cs") // its own examples of what it refuses
            .Concat(Docs());
        var missing = new List<string>();
        foreach (var file in files)
        {
            // In the docs a link is the link test's business; what is left are citations in words.
            var source = RepositoryFiles.Read(file);
            var text = JoinedComments(file.EndsWith(".md", StringComparison.Ordinal) ? Link().Replace(source, "") : source);
            foreach (Match mention in MarkdownMention().Matches(text))
            {
                var cited = mention.Groups["file"].Value;
                var path = CitedPath(file, cited);
                if (path is null)
                {
                    missing.Add($"{file}: cites {cited}, which is not in the repository");
                }
            }

            foreach (Match citation in SectionCitation().Matches(text))
            {
                var cited = citation.Groups["file"].Value;
                var section = citation.Groups["section"].Value.Trim();
                var path = CitedPath(file, cited.EndsWith(".md", StringComparison.Ordinal) ? cited : cited + ".md");
                if (path is null)
                {
                    missing.Add($"{file}: cites {cited}, \"{section}\", and {cited} is not in the repository");
                }
                else if (!Headings(RepositoryFiles.Read(path)).Any(h => SectionMatches(h, section)))
                {
                    missing.Add($"{file}: cites {path}, \"{section}\", which has no such heading");
                }
            }
        }

        Assert.That(missing, Is.Empty, string.Join("\n", missing));
    }

    [Test]
    public void The_README_is_short_enough_to_read()
    {
        var lines = RepositoryFiles.Read("README.md").Split('\n').Length;
        Assert.That(lines, Is.LessThanOrEqualTo(ReadmeMaxLines), "README.md: the rest belongs in docs/");
    }

    [Test]
    public void Every_alert_links_its_own_runbook_by_an_absolute_URL_under_the_one_base()
    {
        var rules = RepositoryFiles.Read("deploy", "monitoring", "prometheus", "alerts.yml");
        var bases = RunbookBase().Matches(rules);
        Assert.That(bases, Has.Count.EqualTo(1), "alerts.yml sets the runbooks' base once: the url label of hermes:runbook_base_url");
        var baseUrl = bases[0].Groups["url"].Value;
        Assert.That(Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps, Is.True, $"{baseUrl} is an absolute https URL");
        Assert.That(baseUrl, Does.Not.EndWith("/"));

        var alerts = Monitoring.AlertRuleTests.Alerts();
        var unitTests = RepositoryFiles.Read("deploy", "monitoring", "prometheus", "tests", "alerts_test.yml");
        Assert.That(alerts, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            foreach (var (name, block) in alerts)
            {
                Assert.That(RunbookUrl().Match(block).Groups["url"].Value,
                    Is.EqualTo("{{ with query \"hermes:runbook_base_url\" }}{{ . | first | label \"url\" }}{{ end }}/docs/runbooks/" + name + ".md"),
                    name + ": runbook_url is the one base followed by its own runbook");
                Assert.That(File.Exists(RepositoryFiles.PathOf("docs", "runbooks", name + ".md")), Is.True, $"docs/runbooks/{name}.md");
                Assert.That(unitTests, Does.Contain($"runbook_url: \"{baseUrl}/docs/runbooks/{name}.md\""),
                    name + ": the promtool unit test expects the expanded, absolute URL");
            }
        });

        var runbooks = Directory.GetFiles(RepositoryFiles.PathOf("docs", "runbooks"), "*.md").Select(Path.GetFileNameWithoutExtension);
        Assert.That(runbooks, Is.EquivalentTo(alerts.Keys), "one runbook per alert, and none for an alert that does not exist");
    }

    [Test]
    public async Task Every_hermes_command_the_docs_print_names_a_verb_and_options_the_CLI_has()
    {
        var cli = await CliTreeAsync();
        Assert.That(cli.Keys, Does.Contain("replay").And.Contain("erase").And.Contain("purge"), "the verbs read from the CLI's help");
        var operating = Commands("docs/operating.md").ToList();
        Assert.That(operating.Select(static c => c.Verb).Distinct(), Is.SupersetOf(new[] { "stats", "doctor", "replay", "purge", "erase", "migrate", "seed" }),
            "docs/operating.md prints every verb an operator runs");

        var wrong = new List<string>();
        foreach (var command in Docs().SelectMany(Commands))
        {
            var key = command.Subcommand is null ? command.Verb : command.Verb + " " + command.Subcommand;
            if (!cli.TryGetValue(key, out var options) && !cli.TryGetValue(command.Verb, out options))
            {
                wrong.Add($"{command.File}: `{command.Text}` — the CLI has no verb '{key}' (it has: {string.Join(", ", cli.Keys.Order(StringComparer.Ordinal))})");
                continue;
            }

            foreach (var option in command.Options.Where(o => !options.Contains(o)))
            {
                wrong.Add($"{command.File}: `{command.Text}` — '{key}' has no option {option} (it has: {string.Join(", ", options.Order(StringComparer.Ordinal))})");
            }
        }

        Assert.That(wrong, Is.Empty, string.Join("\n", wrong));
    }

    [Test]
    public void The_command_check_sees_an_unknown_verb_and_an_unknown_option()
    {
        // The extraction behind the test above, on text it must refuse: a check that finds no command checks nothing.
        var commands = CommandsIn("x.md", """
            ```sh
            hermes replay --dry-run --since 2h   # fine
            docker compose run --rm cli resend --all
            ```
            and inline `hermes erase --person x`, `hermes local-postgres start --dir d`, but not `hermes …` or `hermes-worker`.
            """).ToList();
        Assert.That(commands.Select(static c => (c.Verb, c.Subcommand, string.Join(" ", c.Options))), Is.EqualTo(new[]
        {
            ("replay", (string?)null, "--dry-run --since"),
            ("resend", null, "--all"),
            ("erase", null, "--person"),
            ("local-postgres", "start", "--dir"),
        }));
    }

    /// <summary>Verb (or "verb subcommand") → its options, read from the CLI's own help, as an operator sees it.</summary>
    private static async Task<IReadOnlyDictionary<string, HashSet<string>>> CliTreeAsync()
    {
        var tree = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var root = await HelpAsync([]);
        foreach (var verb in HelpSection(root, "Commands:"))
        {
            var help = await HelpAsync([verb]);
            tree[verb] = HelpSection(help, "Options:").ToHashSet(StringComparer.Ordinal);
            foreach (var sub in HelpSection(help, "Commands:"))
            {
                tree[verb + " " + sub] = HelpSection(await HelpAsync([verb, sub]), "Options:").ToHashSet(StringComparer.Ordinal);
            }
        }

        return tree;
    }

    private static async Task<string> HelpAsync(string[] verb)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        var exit = await OperatorCli.RunAsync([.. verb, "--help"], output, error, settings: null, CancellationToken.None);
        Assert.That(exit, Is.Zero, $"hermes {string.Join(' ', verb)} --help: {error}");
        return output.ToString();
    }

    /// <summary>The names in one section of System.CommandLine's help: commands, or every alias of every option.</summary>
    private static IEnumerable<string> HelpSection(string help, string title)
    {
        var inSection = false;
        foreach (var line in help.Split('\n').Select(static l => l.TrimEnd('\r')))
        {
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]))
            {
                inSection = line.Trim() == title;
                continue;
            }

            if (!inSection || !line.StartsWith("  ", StringComparison.Ordinal) || line.Length < 3 || char.IsWhiteSpace(line[2]))
            {
                continue;
            }

            var names = line.Trim();
            var gap = names.IndexOf("  ", StringComparison.Ordinal);
            names = gap < 0 ? names : names[..gap];
            foreach (var alias in names.Split(", "))
            {
                yield return alias.Split(' ')[0];
            }
        }
    }

    private sealed record PrintedCommand(string File, string Text, string Verb, string? Subcommand, IReadOnlyList<string> Options);

    private static IEnumerable<PrintedCommand> Commands(string file) => CommandsIn(file, RepositoryFiles.Read(file));

    /// <summary>
    /// The <c>hermes</c> commands a markdown text prints: lines of its code blocks, and inline code spans, that start
    /// with <c>hermes &lt;verb&gt;</c> or compose's <c>docker compose run --rm cli &lt;verb&gt;</c>. Placeholders
    /// (<c>hermes &lt;verb&gt; …</c>) are not commands.
    /// </summary>
    private static IEnumerable<PrintedCommand> CommandsIn(string file, string markdown)
    {
        var candidates = new List<string>();
        var inBlock = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock;
            }
            else if (inBlock)
            {
                candidates.Add(line.Trim());
            }
            else
            {
                candidates.AddRange(InlineCode().Matches(line).Select(static m => m.Groups["code"].Value.Trim()));
            }
        }

        foreach (var candidate in candidates)
        {
            var text = candidate.StartsWith("$ ", StringComparison.Ordinal) ? candidate[2..] : candidate;
            var comment = text.IndexOf(" #", StringComparison.Ordinal);
            text = comment < 0 ? text : text[..comment].TrimEnd();
            var tokens = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
            var start = tokens is ["hermes", ..] ? 1
                : tokens.Count > 4 && tokens[0] == "docker" && tokens[1] == "compose" && tokens[2] == "run" && tokens.IndexOf("cli") is > 2 and var cli ? cli + 1
                : -1;
            if (start < 0 || start >= tokens.Count || !VerbName().IsMatch(tokens[start]))
            {
                continue;
            }

            var verb = tokens[start];
            var subcommand = start + 1 < tokens.Count && VerbName().IsMatch(tokens[start + 1]) && verb == "local-postgres" ? tokens[start + 1] : null;
            var options = tokens.Skip(start + 1).Where(static t => t.StartsWith("--", StringComparison.Ordinal)).Select(static t => t.Split('=')[0]).ToList();
            yield return new PrintedCommand(file, text, verb, subcommand, options);
        }
    }

    /// <summary>Text outside fenced code blocks and inline code: where links live.</summary>
    private static string ProseOf(string markdown)
    {
        var prose = new StringBuilder();
        var inBlock = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock;
                continue;
            }

            if (!inBlock)
            {
                prose.Append(InlineCode().Replace(line, "``")).Append('\n');
            }
        }

        return prose.ToString();
    }

    private static IEnumerable<string> Links(string prose) => Link().Matches(prose).Select(static m => m.Groups["target"].Value);

    /// <summary>The headings of a markdown file (outside code blocks), as rendered text.</summary>
    private static IEnumerable<string> Headings(string markdown) =>
        ProseHeading().Matches(ProseOfKeepingCode(markdown)).Select(static m => Rendered(m.Groups["text"].Value));

    private static string ProseOfKeepingCode(string markdown)
    {
        var kept = new StringBuilder();
        var inBlock = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock;
            }
            else if (!inBlock)
            {
                kept.Append(line).Append('\n');
            }
        }

        return kept.ToString();
    }

    /// <summary>The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces to '-', repeats numbered.</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var heading in Headings(markdown))
        {
            var slug = new string(heading.ToLowerInvariant().Where(static c =>
                char.IsLetterOrDigit(c) || c is ' ' or '-' or '_' || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark).ToArray()).Replace(' ', '-');
            var count = seen.GetValueOrDefault(slug);
            anchors.Add(count == 0 ? slug : $"{slug}-{count}");
            seen[slug] = count + 1;
        }

        return anchors;
    }

    /// <summary>A heading as GitHub renders its text: code spans, emphasis and link targets dropped.</summary>
    private static string Rendered(string heading) => MarkdownLink().Replace(heading, "${text}").Replace("`", "", StringComparison.Ordinal).Replace("*", "", StringComparison.Ordinal).Trim();

    /// <summary>A cited section names a heading: exactly, or its start before a parenthesis or colon (dates, subtitles).</summary>
    private static bool SectionMatches(string heading, string section) =>
        string.Equals(heading, section, StringComparison.OrdinalIgnoreCase)
        || heading.StartsWith(section + " (", StringComparison.OrdinalIgnoreCase)
        || heading.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase);

    /// <summary>The repository path a citation names (relative to the repository root, or to the citing file), or null.</summary>
    private static string? CitedPath(string citingFile, string cited)
    {
        var fromRoot = Normalise(cited);
        if (File.Exists(RepositoryFiles.PathOf(fromRoot)))
        {
            return fromRoot;
        }

        var fromFile = Normalise(Path.Combine(Path.GetDirectoryName(citingFile) ?? "", cited));
        return File.Exists(RepositoryFiles.PathOf(fromFile)) ? fromFile : null;
    }

    /// <summary>
    /// The file's text with comment markers removed and lines joined, so that a citation wrapped over two comment lines
    /// (<c>bench/RESULTS.md, "The</c> / <c>public API, trimmed"</c>) reads as one.
    /// </summary>
    private static string JoinedComments(string text) =>
        string.Join(" ", text.Split('\n').Select(static l => CommentMarker().Replace(l, "").Trim()));

    private static string Normalise(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Replace('\\', '/').Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == ".." && parts.Count > 0)
            {
                parts.RemoveAt(parts.Count - 1);
            }
            else
            {
                parts.Add(part);
            }
        }

        return string.Join('/', parts);
    }

    private static IReadOnlyList<string> RepositoryFilesWhere(Func<string, bool> include)
    {
        var root = RepositoryFiles.Root;
        var files = new List<string>();
        var pending = new Stack<string>([root]);
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            foreach (var sub in Directory.EnumerateDirectories(dir))
            {
                if (!SkippedFolders.Contains(Path.GetFileName(sub)))
                {
                    pending.Push(sub);
                }
            }

            files.AddRange(Directory.EnumerateFiles(dir).Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).Where(include));
        }

        files.Sort(StringComparer.Ordinal);
        return files;
    }

    [GeneratedRegex(@"\[(?<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\((?<target>[^()\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"\[(?<text>[^\]]*)\]\([^)]*\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"`(?<code>[^`\n]+)`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^#{1,6}[ \t]+(?<text>.+?)[ \t#]*$", RegexOptions.Multiline)]
    private static partial Regex ProseHeading();

    // README, "Section" · README's "Section" · docs/x.md, "Section" · bench/RESULTS.md, \"Section\" (inside a string).
    [GeneratedRegex(@"(?<![\w/.-])(?<file>(?:[\w.-]+/)*[\w.-]+\.md|README|ARCHITECTURE|SECURITY)(?:'s)?,?[ ]+\\?""(?<section>[^""\\]{2,80})\\?""")]
    private static partial Regex SectionCitation();

    // Any mention of a markdown file by name: it must exist.
    [GeneratedRegex(@"(?<![\w/.<>&;$*-])(?<file>(?:[\w.-]+/)*[\w-][\w.-]*\.md)(?![\w])")]
    private static partial Regex MarkdownMention();

    [GeneratedRegex(@"^\s*(?:///?|#|\*|<!--|--|;)\s?")]
    private static partial Regex CommentMarker();

    [GeneratedRegex(@"^[a-z][a-z-]*$")]
    private static partial Regex VerbName();

    [GeneratedRegex(@"- record: hermes:runbook_base_url\s+expr: [^\n]+\s+labels:\s+url: ""(?<url>[^""]+)""")]
    private static partial Regex RunbookBase();

    [GeneratedRegex(@"runbook_url: '(?<url>[^']*)'")]
    private static partial Regex RunbookUrl();
}
