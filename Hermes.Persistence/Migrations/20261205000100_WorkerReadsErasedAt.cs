using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// The outcome writer decides "this lead is erased" on <c>erased_at</c>, which only an erase sets, rather than on
/// <c>status</c>, which other statements write (a replay racing an erase once set an erased lead back to
/// <c>queued</c>). The worker role reads that column from now on. <c>deploy/postgres/roles.sql</c> grants it too; this
/// migration grants it where the roles already exist, so that a worker upgraded before <c>migrate --roles</c> runs
/// again does not lose every outcome to a permission error. No schema change.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261205000100_WorkerReadsErasedAt")]
public sealed class WorkerReadsErasedAt : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql("""
        DO $grant$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hermes_worker') THEN
                GRANT SELECT (erased_at) ON hermes_leads TO hermes_worker;
            END IF;
        END
        $grant$;
        """);

    protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.Sql("""
        DO $revoke$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hermes_worker') THEN
                REVOKE SELECT (erased_at) ON hermes_leads FROM hermes_worker;
            END IF;
        END
        $revoke$;
        """);
}
