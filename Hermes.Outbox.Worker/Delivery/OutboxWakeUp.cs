namespace Hermes.Outbox.Worker.Delivery;

/// <summary>Wakes the dispatcher so it looks at the table now instead of at its next poll.</summary>
public interface IOutboxWakeUp
{
    /// <summary>Asks the dispatcher to claim at once. Signals that arrive while it is busy fold into one.</summary>
    void Signal();
}

/// <summary>An auto-reset signal: <see cref="Signal"/> from anywhere (the LISTEN connection, an admin action), one waiter.</summary>
public sealed class OutboxWakeUp : IOutboxWakeUp, IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Signal()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the dispatcher will look once, which covers both.
        }
    }

    /// <summary>Waits for a signal or the timeout; true when signalled.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _signal.Dispose();
}
