using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// <c>hermes_attempt_partitions_ensure</c> takes <c>hermes_outbox</c>'s lock before it creates a day. A day of the
/// attempt log has a foreign key to the outbox, so creating it locks the log's parent and then the outbox; the
/// worker's outcome write takes the same two the other way round (it updates the outbox, then logs the attempt). When
/// the worker's maintenance created the day ahead at the turn of a UTC day while outcomes were being written, the two
/// deadlocked and PostgreSQL aborted one (SQLSTATE 40P01). Taken first, and only when a day is missing, the outbox's
/// lock (SHARE ROW EXCLUSIVE, what the foreign key needs) makes the creation wait for a write that holds the outbox,
/// and a write that comes later wait for the creation, which takes milliseconds; the function's 5 s
/// <c>lock_timeout</c> still bounds the wait. Down restores the definition without it.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261209000100_AttemptPartitionLockOrder")]
public sealed class AttemptPartitionLockOrder : Migration
{
    private const string OutboxFirst = """

                    -- Lock order shared with the outcome write: the outbox, then the attempt log (see the migration).
                    IF created = 0 THEN
                        LOCK TABLE hermes_outbox IN SHARE ROW EXCLUSIVE MODE;
                    END IF;
        """;

    protected override void Up(MigrationBuilder migrationBuilder) => Define(migrationBuilder, OutboxFirst);

    protected override void Down(MigrationBuilder migrationBuilder) => Define(migrationBuilder, "");

    // CREATE OR REPLACE keeps the function's owner and grants but resets its settings: the search_path is set again.
    private static void Define(MigrationBuilder migrationBuilder, string lockFirst) => migrationBuilder.Sql(
        PartitionedAttemptLog.EnsureFunctionSql.Replace("/*lock*/", lockFirst, StringComparison.Ordinal) + "\n" + """
            DO $path$
            BEGIN
                EXECUTE format('ALTER FUNCTION hermes_attempt_partitions_ensure(date, integer) SET search_path = %I, pg_temp', current_schema());
            END
            $path$;
            """);
}
