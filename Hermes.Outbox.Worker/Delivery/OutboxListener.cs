using System.Net.Sockets;
using Hermes.Persistence;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// Holds one dedicated connection that <c>LISTEN</c>s on <c>hermes_outbox</c> and wakes the dispatcher on every
/// notification, so a committed row is claimed at once instead of at the next poll. The connection comes from
/// <see cref="HermesDatabase.DirectConnectionString"/>: behind a transaction-pooling PgBouncer without a direct
/// URL there is none, and the worker polls only (said once in the log). A dropped connection is reopened with
/// backoff (1 s doubling to 30 s); after every (re)connect the dispatcher looks once, for what arrived meanwhile.
/// </summary>
public sealed class OutboxListener(
    HermesDatabase database,
    OutboxWakeUp wakeUp,
    DeliveryState state,
    IOptions<OutboxOptions> options,
    TimeProvider time,
    ILogger<OutboxListener> logger) : BackgroundService
{
    /// <summary>How long the connection may stay silent before a <c>SELECT 1</c> checks it is still there.</summary>
    internal static TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pollInterval = options.Value.PollInterval;
        if (!options.Value.Listen)
        {
            WorkerLog.ListenDisabled(logger, pollInterval);
            return;
        }

        if (database.DirectConnectionString is null)
        {
            WorkerLog.PollingOnly(logger, pollInterval);
            return;
        }

        var connectionString = new NpgsqlConnectionStringBuilder(database.DirectConnectionString)
        {
            // Its own physical connection: a LISTEN must not go back into a pool.
            Pooling = false,
        };
        connectionString.ApplicationName = (connectionString.ApplicationName ?? "hermes-worker") + "-listener";

        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(connectionString.ConnectionString, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (DatabaseErrors.IsDatabaseTrouble(e) || e is InvalidOperationException)
            {
                state.Listening = false;
                WorkerLog.ListenerLost(logger, e, delay);
                try
                {
                    await Task.Delay(delay, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                continue;
            }
            finally
            {
                state.Listening = false;
            }
        }

        async Task ListenAsync(string connectionString, CancellationToken cancellationToken)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            connection.Notification += (_, _) => wakeUp.Signal();
            await using (var listen = new NpgsqlCommand($"LISTEN {OutboxStore.NotifyChannel}", connection))
            {
                await listen.ExecuteNonQueryAsync(cancellationToken);
            }

            state.Listening = true;
            delay = TimeSpan.FromSeconds(1);
            WorkerLog.Listening(logger, OutboxStore.NotifyChannel);
            wakeUp.Signal();
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!await connection.WaitAsync(KeepAliveInterval, cancellationToken))
                {
                    await using var ping = new NpgsqlCommand("SELECT 1", connection);
                    await ping.ExecuteScalarAsync(cancellationToken);
                }
            }
        }
    }
}
