using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// <c>idx_hermes_leads_status</c> carries <c>is_canary</c> (INCLUDE). The console's overview counts the leads by status
/// on every load, without the canaries (<c>WHERE NOT is_canary</c>, migration <c>Canary</c>). The status index alone
/// could not answer that condition, so the count read the whole lead table, every column of every lead, and the
/// overview page took 95 ms at the median and 133 ms at p95 with 100,000 leads (bench/console), growing with the
/// table. With <c>is_canary</c> in the index the count is an index-only scan. The index still serves what it was made for (a look-up by status, the
/// seed's index); it gets no more entries than before, since <c>is_canary</c> never changes. Down restores it as it was.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261211000100_LeadStatusIndexCarriesCanary")]
public sealed class LeadStatusIndexCarriesCanary : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => Rebuild(migrationBuilder, carriesCanary: true);

    protected override void Down(MigrationBuilder migrationBuilder) => Rebuild(migrationBuilder, carriesCanary: false);

    private static void Rebuild(MigrationBuilder migrationBuilder, bool carriesCanary)
    {
        migrationBuilder.DropIndex(name: "idx_hermes_leads_status", table: "hermes_leads");
        var index = migrationBuilder.CreateIndex(name: "idx_hermes_leads_status", table: "hermes_leads", column: "status");
        if (carriesCanary)
        {
            index.Annotation("Npgsql:IndexInclude", new[] { "is_canary" });
        }
    }
}
