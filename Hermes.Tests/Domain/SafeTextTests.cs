using System.Globalization;
using System.Text;
using Hermes.Domain;

namespace Hermes.Tests.Domain;

public sealed class SafeTextTests
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // Each holds characters of more than one code unit where a cut can fall inside them.
    private static readonly string[] Samples =
    [
        "abc😀def😀",
        "😀😀😀😀",
        "e\u0301e\u0301e\u0301",            // e + combining acute: one character, two code units
        "👨‍👩‍👧‍👦 family",                     // one grapheme cluster of 11 code units
        "🇩🇪🇫🇷🇮🇹",                         // flags: two regional indicators each
        "ok\r\nnext",                       // CR LF is one cluster
        new string('a', 999) + "😀",
    ];

    [Test]
    public void A_cut_at_every_boundary_keeps_whole_characters_and_as_many_as_fit()
    {
        foreach (var sample in Samples)
        {
            var clusters = Clusters(sample);
            for (var max = 0; max <= sample.Length + 1; max++)
            {
                var cut = SafeText.Cut(sample, max);

                Assert.That(cut.Length, Is.LessThanOrEqualTo(max), $"{Escape(sample)} at {max}");
                Assert.That(sample.StartsWith(cut, StringComparison.Ordinal), Is.True, $"{Escape(sample)} at {max}");
                Assert.That(() => StrictUtf8.GetBytes(cut), Throws.Nothing, $"{Escape(sample)} at {max}: {Escape(cut)}");
                // Whole clusters only, and the longest such prefix that fits.
                var expected = 0;
                foreach (var cluster in clusters)
                {
                    if (expected + cluster.Length > max)
                    {
                        break;
                    }

                    expected += cluster.Length;
                }

                if (expected == 0 && max > 0)
                {
                    // The first cluster alone is longer than the limit: whole code points of it (the strict encoding above proves it).
                    Assert.That(cut.Length, Is.InRange(max - 1, max), $"{Escape(sample)} at {max}");
                    continue;
                }

                Assert.That(cut.Length, Is.EqualTo(expected), $"{Escape(sample)} at {max}");
            }
        }
    }

    [Test]
    public void A_cluster_longer_than_the_limit_is_cut_between_code_points()
    {
        // Zalgo: one letter carrying 3,000 combining marks is a single grapheme cluster.
        var zalgo = "a" + string.Concat(Enumerable.Repeat("\u0301", 3000));
        Assert.That(SafeText.Cut(zalgo, 1000), Has.Length.EqualTo(1000));

        // A cluster of surrogate pairs (emoji with skin-tone modifiers joined) cut at an odd length.
        var joined = string.Join("\u200D", Enumerable.Repeat("👍🏽", 200));
        for (var max = 1; max < 20; max++)
        {
            var cut = SafeText.Cut(joined, max);
            Assert.That(cut.Length, Is.InRange(max - 1, max));
            Assert.That(() => StrictUtf8.GetBytes(cut), Throws.Nothing, $"at {max}");
        }
    }

    [Test]
    public void Short_text_is_returned_as_it_is()
    {
        const string text = "hello 😀";
        Assert.That(SafeText.Cut(text, 100), Is.SameAs(text));
        Assert.That(SafeText.Storable(text), Is.SameAs(text));
    }

    // Built in code: an attribute argument cannot carry a lone surrogate (metadata stores it as UTF-8).
    private static readonly object[] Unstorable =
    [
        new object[] { "a\0b", "a\uFFFDb" },
        new object[] { "\ud800", "\uFFFD" },
        new object[] { "x\udc00y", "x\uFFFDy" },
        new object[] { "\ud83d\ude00\ud83d", "\ud83d\ude00\uFFFD" },
        new object[] { "\ude00\ud83d", "\uFFFD\uFFFD" },
    ];

    [TestCaseSource(nameof(Unstorable))]
    public void Nul_and_lone_surrogates_become_the_replacement_character(string text, string expected)
    {
        Assert.That(SafeText.IsStorable(text), Is.False);
        var storable = SafeText.Storable(text);
        Assert.That(storable, Is.EqualTo(expected));
        Assert.That(SafeText.IsStorable(storable), Is.True);
        Assert.That(() => StrictUtf8.GetBytes(storable), Throws.Nothing);
    }

    [Test]
    public void Clean_makes_storable_then_cuts()
    {
        Assert.That(SafeText.Clean("\0" + new string('a', 10) + "😀", 12), Is.EqualTo("\uFFFD" + new string('a', 10)));
    }

    private static List<string> Clusters(string text)
    {
        var clusters = new List<string>();
        var e = StringInfo.GetTextElementEnumerator(text);
        while (e.MoveNext())
        {
            clusters.Add(e.GetTextElement());
        }

        return clusters;
    }

    private static string Escape(string text) => string.Concat(text.Length > 40 ? text[^20..] : text).Replace("\0", "\\0", StringComparison.Ordinal);
}
