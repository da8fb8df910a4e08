using System.Collections.Concurrent;
using Hermes.Persistence.Outbox;
using Npgsql;

namespace Hermes.Tests.Api;

/// <summary>A LISTEN connection of the test's own that records each notification on the workers' channel.</summary>
internal sealed class NotifyListener : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<Notification> _received = new();
    private Task _loop = Task.CompletedTask;

    private NotifyListener(NpgsqlConnection connection) => _connection = connection;

    public IReadOnlyCollection<Notification> Received => _received.ToArray();

    public static async Task<NotifyListener> StartAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var listener = new NotifyListener(connection);
        connection.Notification += (_, e) => listener._received.Enqueue(new Notification(e.Channel, e.PID));
        await using (var listen = new NpgsqlCommand($"LISTEN {OutboxStore.NotifyChannel}", connection))
        {
            await listen.ExecuteNonQueryAsync();
        }

        listener._loop = listener.LoopAsync();
        return listener;
    }

    private async Task LoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await _connection.WaitAsync(_stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        await _connection.DisposeAsync();
        _stop.Dispose();
    }
}

internal sealed record Notification(string Channel, int Pid);
