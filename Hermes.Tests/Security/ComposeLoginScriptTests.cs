using Hermes.Persistence.Roles;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Security;

/// <summary>
/// deploy/postgres/initdb/02-hermes-logins.sh, run as the postgres image's entrypoint runs it (as POSTGRES_USER on
/// POSTGRES_DB), against the real test server: the three logins exist, sit in their groups, carry a SCRAM password
/// and, once roles.sql is applied, hold their group's privileges and nothing more. The compose tier
/// (Hermes.Tests/Containers) connects with them for real.
/// </summary>
[NonParallelizable] // the login names are cluster-wide and fixed by the compose file
public sealed class ComposeLoginScriptTests : DatabaseTest
{
    private static readonly string[] Logins = ["hermes_api_login", "hermes_worker_login", "hermes_admin_login"];

    [SetUp]
    [TearDown]
    public async Task DropLoginsAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var login in Logins)
        {
            await ExecuteAsync($"DROP ROLE IF EXISTS {login}");
        }
    }

    [Test]
    public async Task Creates_the_three_logins_in_their_groups_and_resets_their_passwords_when_run_again()
    {
        var first = await RunScriptAsync(Passwords("a"));
        Assert.That(first.ExitCode, Is.Zero, first.Describe());
        var hashes = await HashesAsync();
        await DatabaseRoles.ApplyAsync(DataSource, CancellationToken.None);

        Assert.Multiple(async () =>
        {
            foreach (var (login, group) in Logins.Zip(new[] { DatabaseRoles.Api, DatabaseRoles.Worker, DatabaseRoles.Admin }))
            {
                Assert.That(await ScalarAsync<bool>("SELECT pg_has_role($1, $2, 'USAGE')", login, group), Is.True, $"{login} in {group}");
                Assert.That(await ScalarAsync<bool>("SELECT rolcanlogin AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb FROM pg_roles WHERE rolname = $1", login), Is.True, login);
                Assert.That(hashes[login], Does.StartWith("SCRAM-SHA-256$"), login);
            }

            Assert.That(await ScalarAsync<bool>("SELECT has_table_privilege('hermes_api_login', 'hermes_leads', 'INSERT')"), Is.True);
            Assert.That(await ScalarAsync<bool>("SELECT has_column_privilege('hermes_api_login', 'hermes_leads', 'email', 'SELECT')"), Is.False);
            Assert.That(await ScalarAsync<bool>("SELECT has_column_privilege('hermes_worker_login', 'hermes_leads', 'email', 'UPDATE')"), Is.False);
            Assert.That(await ScalarAsync<bool>("SELECT has_table_privilege('hermes_admin_login', 'hermes_leads', 'DELETE')"), Is.True);
            Assert.That(await ScalarAsync<bool>("""SELECT has_table_privilege('hermes_worker_login', '"__EFMigrationsHistory"', 'SELECT')"""), Is.True, "readiness");
        });

        var again = await RunScriptAsync(Passwords("b"));
        Assert.That(again.ExitCode, Is.Zero, again.Describe());
        var changed = await HashesAsync();
        Assert.That(Logins.Select(l => changed[l] != hashes[l]), Has.All.True, "a second run sets the passwords from the environment again");
        Assert.That(first.StandardOutput + first.StandardError + again.StandardOutput + again.StandardError, Does.Not.Contain("pw-a-").And.Not.Contain("pw-b-"), "passwords are never printed");
    }

    [Test]
    public async Task A_missing_password_stops_the_script_by_name_before_it_creates_anything()
    {
        var passwords = Passwords("c");
        passwords["HERMES_DB_WORKER_PASSWORD"] = null;

        var run = await RunScriptAsync(passwords);

        Assert.That(run.ExitCode, Is.EqualTo(1), run.Describe());
        Assert.That(run.StandardError, Does.Contain("HERMES_DB_WORKER_PASSWORD is not set"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'hermes\\_%\\_login'"), Is.Zero);
    }

    private static Dictionary<string, string?> Passwords(string run) => new()
    {
        ["HERMES_DB_API_PASSWORD"] = $"pw-{run}-api-0123456789",
        ["HERMES_DB_WORKER_PASSWORD"] = $"pw-{run}-worker-0123456789",
        ["HERMES_DB_ADMIN_PASSWORD"] = $"pw-{run}-admin-0123456789",
    };

    private async Task<ToolResult> RunScriptAsync(Dictionary<string, string?> passwords)
    {
        var server = new NpgsqlConnectionStringBuilder(ConnectionString);
        var environment = new Dictionary<string, string?>(passwords)
        {
            ["PGHOST"] = server.Host,
            ["PGPORT"] = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGPASSWORD"] = server.Password,
            ["POSTGRES_USER"] = server.Username,
            ["POSTGRES_DB"] = server.Database,
        };
        var bash = ExternalTool.Require("bash", "bash runs the init script.");
        ExternalTool.Require("psql", "psql (postgresql-client) runs the init script's SQL.");
        return await ExternalTool.RunAsync(bash, [RepositoryFiles.PathOf("deploy", "postgres", "initdb", "02-hermes-logins.sh")], environment: environment);
    }

    private async Task<Dictionary<string, string>> HashesAsync()
    {
        var hashes = new Dictionary<string, string>();
        foreach (var login in Logins)
        {
            hashes[login] = await ScalarAsync<string>("SELECT rolpassword FROM pg_authid WHERE rolname = $1", login);
        }

        return hashes;
    }
}
