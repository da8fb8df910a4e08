using System.Diagnostics;
using System.Globalization;
using System.Net;
using Hermes.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Hermes.Persistence.Operations;

/// <summary>What a seed wrote.</summary>
public sealed record SeedResult(int Leads, long FirstBackupId, long LastBackupId, double Seconds);

/// <summary>
/// Realistic fake leads for staging and benchmarks, written the way the API writes them: a form validated by
/// <see cref="LeadSubmissionValidator"/>, <see cref="Lead.FromSubmission"/> with <see cref="LeadIdentifier.New"/>, and
/// one pending outbox row carrying <see cref="WebhookPayload.For"/>. Every address is at a domain reserved for
/// examples (RFC 2606), every IP in a documentation range, and <c>source</c> is <see cref="Source"/>, so seeded
/// leads never reach a real person and are easy to tell apart. Refused in Production (see <see cref="IsAllowedIn"/>).
/// </summary>
public sealed class LeadSeeder(NpgsqlDataSource dataSource)
{
    public const string Source = "hermes-seed";
    public const int MaxCount = 1_000_000;
    private const int BatchSize = 2000;

    /// <summary>
    /// Seeding is refused in Production; like every .NET host, an environment that is not set is Production, so
    /// seeding needs <c>DOTNET_ENVIRONMENT</c> (or <c>ASPNETCORE_ENVIRONMENT</c>) set to Development, Staging or similar.
    /// </summary>
    public static bool IsAllowedIn(string environmentName) =>
        !string.Equals(environmentName.Trim(), "Production", StringComparison.OrdinalIgnoreCase);

    /// <summary>Writes <paramref name="count"/> leads in batches; <paramref name="progress"/> hears the leads written after each batch.</summary>
    /// <remarks>With an <paramref name="actor"/> (the <c>seed</c> verb), each batch appends its audit entry (how many leads, their backup ids) in the batch's own transaction.</remarks>
    public async Task<SeedResult> SeedAsync(int count, CancellationToken cancellationToken, int? randomSeed = null, IProgress<long>? progress = null, AuditActor? actor = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxCount);
        var random = randomSeed is { } seed ? new Random(seed) : new Random();
        var stopwatch = Stopwatch.StartNew();
        long first = 0, last = 0;
        for (var done = 0; done < count; done += BatchSize)
        {
            var leads = Enumerable.Range(0, Math.Min(BatchSize, count - done)).Select(_ => FakeLead(random)).ToList();
            await using var context = PersistenceExtensions.CreateContext(dataSource);
            context.ChangeTracker.AutoDetectChangesEnabled = false;
            await using var transaction = await context.Database.BeginTransactionAsync(cancellationToken);
            context.Leads.AddRange(leads);
            await context.SaveChangesAsync(cancellationToken);
            context.Outbox.AddRange(leads.Select(static lead => new OutboxMessage { BackupId = lead.BackupId, Payload = WebhookPayload.For(lead).ToJson() }));
            await context.SaveChangesAsync(cancellationToken);
            if (actor is not null)
            {
                await AuditTrail.AppendAsync((NpgsqlConnection)context.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction(), actor, AuditAction.Seed, [],
                    new() { ["leads"] = leads.Count, ["firstBackupId"] = leads[0].BackupId, ["lastBackupId"] = leads[^1].BackupId }, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            first = first == 0 ? leads[0].BackupId : first;
            last = leads[^1].BackupId;
            progress?.Report(done + leads.Count);
        }

        return new SeedResult(count, first, last, stopwatch.Elapsed.TotalSeconds);
    }

    private static Lead FakeLead(Random random)
    {
        var first = Pick(random, FirstNames);
        var last = Pick(random, LastNames);
        var company = Pick(random, Companies);
        var form = new LeadForm
        {
            FirstName = first,
            LastName = last,
            Email = string.Create(CultureInfo.InvariantCulture, $"{Ascii(first)}.{Ascii(last)}.{random.Next(10_000, 99_999)}@{Pick(random, Domains)}"),
            Country = Pick(random, Countries),
            PhoneNumber = string.Create(CultureInfo.InvariantCulture, $"+{random.Next(1, 99)} {random.Next(100, 999)} {random.Next(100, 999)} {random.Next(1000, 9999)}"),
            UserRole = random.Next(5) == 0 ? null : Pick(random, Roles),
            ProblemDescription = Pick(random, Problems),
            CompanyName = random.Next(6) == 0 ? null : company,
            CompanySize = Pick(random, CompanySizes.Default),
            ServiceUrgency = Pick(random, Urgencies),
            AgreeToTerms = true,
            PrivacyConsent = true,
            MarketingConsent = random.Next(3) == 0,
            CaptchaToken = Convert.ToHexStringLower(RandomBytes(random, 24)),
            Source = Source,
        };
        var metadata = new SubmissionMetadata(Pick(random, UserAgents), new IPAddress([.. Pick(random, DocumentationNetworks), (byte)random.Next(1, 255)]));
        var result = LeadSubmissionValidator.Validate(form, metadata, new LeadValidationOptions());
        var submission = result.Submission
            ?? throw new InvalidOperationException("A generated lead failed validation: " + string.Join("; ", result.Errors.Select(static e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        return Lead.FromSubmission(submission, LeadIdentifier.New());
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Ascii(string name) =>
        new([.. name.Normalize(System.Text.NormalizationForm.FormD).Where(char.IsAsciiLetter).Select(char.ToLowerInvariant)]);

    private static readonly string[] FirstNames =
    [
        "Ada", "Grace", "Alan", "Margaret", "Linus", "Hedy", "Dennis", "Barbara", "Ken", "Radia", "Tim", "Frances",
        "Søren", "Amélie", "José", "Zoë", "Mateus", "Aiko", "Chen", "Priya", "Olumide", "Fatima", "Lars", "Ingrid",
    ];

    private static readonly string[] LastNames =
    [
        "Lovelace", "Hopper", "Turing", "Hamilton", "Torvalds", "Lamarr", "Ritchie", "Liskov", "Thompson", "Perlman",
        "Berners-Lee", "Allen", "Kierkegaard", "Dubois", "García", "Müller", "Silva", "Tanaka", "Wei", "Sharma", "Adeyemi",
        "Haddad", "Nilsson", "Bergström",
    ];

    private static readonly string[] Domains = ["example.com", "example.org", "example.net"];

    private static readonly string[] Countries =
    [
        "United Kingdom", "Germany", "France", "Spain", "Portugal", "Netherlands", "Sweden", "Denmark", "Italy",
        "United States", "Canada", "Brazil", "Japan", "India", "Nigeria", "Australia",
    ];

    private static readonly string[] Roles = ["CISO", "CTO", "IT Manager", "Security Engineer", "Founder", "Head of Operations", "DevOps Lead", "Compliance Officer"];

    private static readonly string[] Companies =
    [
        "Analytical Engines Ltd", "Northwind Traders", "Contoso Pharma", "Fabrikam Logistics", "Tailspin Toys",
        "Wide World Importers", "Adventure Works Cycles", "Blue Yonder Airlines", "Proseware GmbH", "Litware SA",
    ];

    private static readonly string[] Urgencies = ["not-urgent", "not-urgent", "soon", "soon", "urgent", "emergency"];

    private static readonly string[] Problems =
    [
        "Our web shop was defaced last night.\nWe need an incident response and a review of the CMS.",
        "We received a ransom note and several file servers are encrypted. Backups look intact but we need help now.",
        "Looking for a penetration test of our customer portal before the launch next quarter.",
        "An employee entered their credentials on a phishing page. We want to know what the attacker could reach.",
        "We need an ISO 27001 gap analysis and help writing our security policies.",
        "Our cloud bill tripled this month and we suspect crypto-mining on a compromised Kubernetes cluster.",
        "A customer reported that their data appeared on a paste site. Please help us investigate a possible breach.",
        "We would like a phishing awareness training for about 80 staff.",
        "Our SOC is overwhelmed with alerts; we are looking for a managed detection and response offer.",
        "Please review the security of our mobile banking app (iOS and Android) before the audit.",
    ];

    private static readonly string[] UserAgents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    ];

    // 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737).
    private static readonly byte[][] DocumentationNetworks = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
}
