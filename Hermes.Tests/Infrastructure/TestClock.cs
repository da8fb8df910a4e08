using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells when the code under test has started to wait on it. A hosted
/// service runs on a thread of its own, so a test that moves the clock before the service has created its timer
/// moves it for nothing; <see cref="TimersCreatedAsync"/> is the point after which <see cref="FakeTimeProvider.Advance"/>
/// reaches that timer.
/// </summary>
/// <remarks>It starts at the real now, so what the code under test stamps with it (a webhook's signature time, a row's
/// timestamp) looks current to the receiver and the server.</remarks>
public sealed class TestClock() : FakeTimeProvider(DateTimeOffset.UtcNow)
{
    private readonly Lock _gate = new();
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _created;

    public int TimersCreated
    {
        get
        {
            lock (_gate)
            {
                return _created;
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        lock (_gate)
        {
            _created++;
            foreach (var waiter in _waiters.Where(w => w.Count <= _created).ToList())
            {
                waiter.Reached.TrySetResult();
                _waiters.Remove(waiter);
            }
        }

        return timer;
    }

    /// <summary>Completes once <paramref name="count"/> timers (a <c>Task.Delay</c>, a <c>PeriodicTimer</c>…) have been created on this clock; fails after 15 s.</summary>
    public Task TimersCreatedAsync(int count)
    {
        lock (_gate)
        {
            if (_created >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task.WaitAsync(TimeSpan.FromSeconds(15));
        }
    }
}
