using System.CommandLine;
using Hermes.Persistence.Local;
using Npgsql;

namespace Hermes.Cli;

/// <summary>
/// <c>local-postgres start|stop</c>: the local, durable PostgreSQL cluster the README's run command uses when no
/// <c>DATABASE_URL</c> is set. Same binaries and root handling as the test fixture; the folder is kept between
/// runs (and git-ignored), so are the cluster's port and data.
/// </summary>
internal static class LocalPostgresVerb
{
    public const string DefaultDirectory = ".hermes/pg";

    public static Command Create(CliContext context)
    {
        var directory = new Option<string>("--dir") { Description = "The cluster's folder.", DefaultValueFactory = static _ => DefaultDirectory };
        var database = new Option<string>("--database") { Description = "The database to create if missing.", DefaultValueFactory = static _ => "hermes" };
        var owner = new Option<int?>("--owner-pid") { Description = "Stop the server when this process dies (even by kill -9)." };

        var start = new Command("start", "Start (or reuse) the local cluster, create the database if missing, print its DATABASE_URL.") { directory, database, owner };
        start.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            LocalPostgresCluster cluster;
            try
            {
                cluster = await LocalPostgresCluster.StartAsync(
                    new LocalPostgresOptions { Directory = parse.GetValue(directory), Durable = true, StopWithProcessId = parse.GetValue(owner) }, ct);
            }
            catch (InvalidOperationException e)
            {
                // No binaries, or initdb/pg_ctl failed: their own words say why.
                await context.Error.WriteLineAsync(e.Message);
                return ExitCodes.Failure;
            }

            var name = parse.GetValue(database)!;
            if (!await cluster.DatabaseExistsAsync(name, ct))
            {
                await cluster.CreateDatabaseAsync(name, cancellationToken: ct);
            }

            NpgsqlConnection.ClearAllPools();
            await context.Output.WriteLineAsync($"postgres://{LocalPostgresCluster.Superuser}@127.0.0.1:{cluster.Port}/{Uri.EscapeDataString(name)}");
            return ExitCodes.Ok;
        }, cancellationToken));

        var stop = new Command("stop", "Stop the local cluster (its data stays).") { directory };
        stop.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            var stopped = await LocalPostgresCluster.StopKeptAsync(parse.GetValue(directory)!, ct);
            await context.Output.WriteLineAsync(stopped ? "stopped" : "not running");
            return ExitCodes.Ok;
        }, cancellationToken));

        return new Command("local-postgres", "A local PostgreSQL for development (used by ./run.sh when DATABASE_URL is not set).") { start, stop };
    }
}
