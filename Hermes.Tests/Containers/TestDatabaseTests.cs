using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Containers;

/// <summary>
/// The suite's database is the one the rules choose (<see cref="TestPostgres"/>): HERMES_TEST_DATABASE_URL, else a
/// postgres:15 container wherever a Docker engine answers, else the local cluster. Under HERMES_REQUIRE_DOCKER=1
/// (.ci/run) it must be the container, so a green CI run ran the suite through Testcontainers.
/// </summary>
public sealed class TestDatabaseTests
{
    [Test]
    public async Task The_suite_runs_on_the_database_the_rules_choose()
    {
        var external = !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(TestPostgres.ExternalVariable));
        var docker = await DockerEngine.FindHostAsync() is not null && Environment.GetEnvironmentVariable(TestPostgres.ChoiceVariable) != "local";
        await using var connection = new NpgsqlConnection(TestPostgres.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_setting('data_directory')", connection);
        var dataDirectory = (string)(await command.ExecuteScalarAsync())!;
        TestContext.Out.WriteLine($"Test database: {TestPostgres.Backend} (data directory {dataDirectory}).");

        if (external)
        {
            Assert.That(TestPostgres.Backend, Does.Contain(TestPostgres.ExternalVariable));
        }
        else if (docker)
        {
            Assert.That(TestPostgres.InContainer, Is.True, TestPostgres.Backend);
            Assert.That(dataDirectory, Is.EqualTo("/var/lib/postgresql/data"), "the server in the postgres image");
        }
        else
        {
            Assert.That(TestPostgres.Cluster, Is.Not.Null, TestPostgres.Backend);
            Assert.That(dataDirectory, Is.EqualTo(TestPostgres.Cluster!.DataDirectory));
        }

        if (Environment.GetEnvironmentVariable(DockerEngine.RequireVariable) == "1" && !external)
        {
            Assert.That(TestPostgres.InContainer, Is.True, $"{DockerEngine.RequireVariable}=1: the suite must run through Testcontainers, but used {TestPostgres.Backend}");
        }
    }
}
