using System.Text.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;

namespace Hermes.Tests.Operations;

public sealed class SeedTests : OperationsTest
{
    [Test]
    public async Task Seed_writes_realistic_leads_each_with_a_pending_outbox_row_in_the_shape_the_api_writes()
    {
        var run = await CliAsync("seed", "--yes", "--count", "612");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var first = await ScalarAsync<long>("SELECT min(id) FROM hermes_leads");
        Assert.That(run.Output, Does.Contain($"Seeded 612 leads (backup ids {first}–{first + 611})").And.Contain("(Staging)"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE source = 'hermes-seed' AND status = 'queued'"), Is.EqualTo(612));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending' AND attempts = 0"), Is.EqualTo(612));
        Assert.That(await ScalarAsync<long>("SELECT count(DISTINCT lead_id) FROM hermes_leads"), Is.EqualTo(612));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE email !~ '@example\\.(com|org|net)$'"), Is.Zero, "only reserved example domains");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE NOT (ip_address << '192.0.2.0/24' OR ip_address << '198.51.100.0/24' OR ip_address << '203.0.113.0/24')"), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(DISTINCT country) FROM hermes_leads"), Is.GreaterThan(5), "varied, not one lead copied");

        await using var context = CreateContext();
        foreach (var message in context.Outbox.OrderBy(static o => o.Id).Take(20).ToList())
        {
            var lead = context.Leads.Single(l => l.BackupId == message.BackupId);
            Assert.That(LeadIdentifier.IsWellFormed(lead.LeadId), Is.True);
            var payload = WebhookPayload.FromJson(message.Payload);
            Assert.That(payload.BackupId, Is.EqualTo(lead.BackupId));
            Assert.That(payload.LeadId, Is.EqualTo(lead.LeadId));
            Assert.That(payload.Lead.Email, Is.EqualTo(lead.Email));
            Assert.That(payload.Lead.Priority, Is.EqualTo(ServiceUrgencies.PriorityFor(lead.ServiceUrgency)));
            Assert.That(payload.Metadata.Source, Is.EqualTo(LeadSeeder.Source));
        }

        Assert.That((await CliAsync("doctor")).ExitCode, Is.Zero, "seeded data is consistent");
    }

    [Test]
    public async Task Seed_reports_json()
    {
        var run = await CliAsync("seed", "--yes", "--count", "3", "--json");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var result = JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.SeedResult)!;
        Assert.That(result.Leads, Is.EqualTo(3));
        Assert.That(result.LastBackupId - result.FirstBackupId, Is.EqualTo(2));
    }

    [TestCase("Production", "Production")]
    [TestCase("production", "")]
    [TestCase("", "Production")]
    [TestCase("", "")]
    public async Task Seed_is_refused_in_production_and_when_no_environment_is_set(string aspNetCore, string dotnet)
    {
        var settings = CliSettings(("ASPNETCORE_ENVIRONMENT", aspNetCore), ("DOTNET_ENVIRONMENT", dotnet));

        var run = await CliAsync(settings, "seed", "--yes", "--count", "5");

        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        Assert.That(run.Error, Does.Contain("Refused").And.Contain("DOTNET_ENVIRONMENT"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
    }

    [TestCase("0")]
    [TestCase("1000001")]
    [TestCase("many")]
    public async Task Seed_with_a_bad_count_is_a_usage_error(string count)
    {
        var run = await CliAsync("seed", "--yes", "--count", count);
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
    }

    [Test]
    public async Task Seed_without_a_count_is_a_usage_error()
    {
        var run = await CliAsync("seed", "--yes");
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("--count"));
    }

    [Test]
    public async Task The_seeder_refuses_a_count_out_of_range() =>
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => new LeadSeeder(DataSource).SeedAsync(0, CancellationToken.None));
}
