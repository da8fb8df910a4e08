using System.Diagnostics;
using Hermes.Persistence.Local;
using Npgsql;

namespace Hermes.Tests.Persistence;

public sealed class LocalPostgresClusterTests
{
    [Test]
    public async Task The_watchdog_stops_the_server_and_removes_it_when_its_owner_is_killed()
    {
        using var owner = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        var cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = false, StopWithProcessId = owner.Id }, CancellationToken.None);
        try
        {
            await using (var connection = new NpgsqlConnection(cluster.ConnectionString()))
            {
                await connection.OpenAsync();
                Assert.That(connection.State, Is.EqualTo(System.Data.ConnectionState.Open));
            }

            owner.Kill();
            var stopped = false;
            for (var i = 0; i < 100 && !stopped; i++)
            {
                await Task.Delay(100);
                stopped = !File.Exists(Path.Combine(cluster.DataDirectory, "postmaster.pid"));
            }

            Assert.That(stopped, Is.True, "the server should stop within seconds of its owner's death");
            NpgsqlConnection.ClearAllPools();
            await using var refused = new NpgsqlConnection(cluster.ConnectionString() + ";Timeout=2");
            await Assert.ThrowsAsync<NpgsqlException>(() => refused.OpenAsync());
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    [Test]
    public async Task Configuration_lines_are_added_and_the_clusters_own_settings_win()
    {
        // As a benchmark gives deploy/postgres/postgresql.conf: its port and listen address must not move the cluster.
        await using var cluster = await LocalPostgresCluster.StartAsync(
            new LocalPostgresOptions { Durable = false, Configuration = ["work_mem = 7MB", "port = 5432", "listen_addresses = '*'"] },
            CancellationToken.None);
        await using var connection = new NpgsqlConnection(cluster.ConnectionString());
        await connection.OpenAsync();

        async Task<string> Show(string name)
        {
            await using var command = new NpgsqlCommand($"SHOW {name}", connection);
            return (string)(await command.ExecuteScalarAsync())!;
        }

        Assert.Multiple(async () =>
        {
            Assert.That(await Show("work_mem"), Is.EqualTo("7MB"), "the added line");
            Assert.That(await Show("port"), Is.EqualTo(cluster.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), "the cluster's port");
            Assert.That(await Show("listen_addresses"), Is.EqualTo("127.0.0.1"), "loopback only");
        });
    }

    [Test]
    [NonParallelizable] // it points the process's PostgreSQL binaries elsewhere, which a cluster started beside it would read
    public async Task Missing_binaries_are_explained_both_ways()
    {
        var previous = Environment.GetEnvironmentVariable(LocalPostgresCluster.BinEnvironmentVariable);
        Environment.SetEnvironmentVariable(LocalPostgresCluster.BinEnvironmentVariable, "/nonexistent/bin");
        try
        {
            Assert.That(LocalPostgresCluster.FindBinDirectory(), Is.Null);
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => LocalPostgresCluster.StartAsync(new LocalPostgresOptions(), CancellationToken.None));
            Assert.That(error!.Message, Does.Contain("apt-get install -y postgresql").And.Contain("DATABASE_URL"));
            Assert.That(LocalPostgresCluster.MissingBinariesAdvice("HERMES_TEST_DATABASE_URL"), Does.Contain("HERMES_TEST_DATABASE_URL"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(LocalPostgresCluster.BinEnvironmentVariable, previous);
        }
    }
}
