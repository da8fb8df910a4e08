using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// The canary (docs/monitoring.md, "The canary"): <c>is_canary</c> marks the synthetic leads that prove the path, so that
/// lead counts, the console's list and the statistics leave them out; only the API sets it, for a submission that
/// carries the canary secret. A partial index on the canaries' ids serves the console's filter and the canary's "when
/// was the last one"; one on the outbox rows whose frozen payload says <c>"canary": true</c> lets the statistics
/// subtract them without reading the table (EF cannot model an index on a JSON expression, hence raw SQL).
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261207000200_Canary")]
public sealed class Canary : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.AddColumn<bool>(
            name: "is_canary",
            table: "hermes_leads",
            type: "boolean",
            nullable: false,
            defaultValue: false);

        migrationBuilder.CreateIndex(
            name: "idx_hermes_leads_canary",
            table: "hermes_leads",
            column: "id",
            filter: "is_canary");

        migrationBuilder.Sql("""
            CREATE INDEX idx_hermes_outbox_canary ON hermes_outbox (status) WHERE (payload->>'canary') = 'true';
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP INDEX idx_hermes_outbox_canary;");

        migrationBuilder.DropIndex(
            name: "idx_hermes_leads_canary",
            table: "hermes_leads");

        migrationBuilder.DropColumn(
            name: "is_canary",
            table: "hermes_leads");
    }
}
