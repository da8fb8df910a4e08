using System.Threading.Channels;
using Polly.CircuitBreaker;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// What this worker knows about its deliveries right now, for health checks and operators: the last success,
/// the failures since, the circuit breaker's state, and whether the wake-up listener is connected.
/// Thread-safe; written by the dispatcher, the webhook client and the listener.
/// </summary>
public sealed class DeliveryState(TimeProvider time)
{
    private readonly Lock _gate = new();
    private DateTimeOffset? _lastSuccessAt;
    private DateTimeOffset? _lastFailureAt;
    private int _consecutiveFailures;
    private CircuitState _circuit = CircuitState.Closed;
    private DateTimeOffset? _circuitOpenUntil;
    private long _delivered;
    private long _withoutContactId;
    private volatile bool _listening;
    private DateTimeOffset? _writerFailingSince;
    private string? _fatalError;
    private DateTimeOffset? _failingSince;
    private DateTimeOffset? _outageSince;
    private bool _circuitWasOpen;
    private readonly Channel<bool> _outageEnded = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public DateTimeOffset? LastSuccessAt { get { lock (_gate) { return _lastSuccessAt; } } }

    public DateTimeOffset? LastFailureAt { get { lock (_gate) { return _lastFailureAt; } } }

    /// <summary>Failed attempts since the last delivery.</summary>
    public int ConsecutiveFailures { get { lock (_gate) { return _consecutiveFailures; } } }

    public CircuitState Circuit { get { lock (_gate) { return _circuit; } } }

    /// <summary>While the circuit is open: when the next probe may go.</summary>
    public DateTimeOffset? CircuitOpenUntil { get { lock (_gate) { return _circuitOpenUntil; } } }

    /// <summary>Deliveries (2xx) since the worker started.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Deliveries whose answer carried no Brevo contact id (n8n answers an empty 200 when its workflow fails late).</summary>
    public long DeliveredWithoutContactId => Interlocked.Read(ref _withoutContactId);

    /// <summary>True while the wake-up listener holds its LISTEN connection.</summary>
    public bool Listening { get => _listening; internal set => _listening = value; }

    /// <summary>Since when writing outcomes fails (transient errors, retried); null while writes land.</summary>
    public DateTimeOffset? WriterFailingSince { get { lock (_gate) { return _writerFailingSince; } } }

    /// <summary>Why this worker gave up and is stopping (it exits non-zero); null while it is fine.</summary>
    public string? FatalError { get { lock (_gate) { return _fatalError; } } }

    /// <summary>Signalled by the first delivery after the circuit closed again (<see cref="OutageRecovery"/> waits on it).</summary>
    internal ChannelReader<bool> OutageEnded => _outageEnded.Reader;

    /// <summary>
    /// The start of the outage that ended: this worker's first failed attempt after its last delivery. Taken once;
    /// outages that end before a recovery takes them merge into one, from the earliest start.
    /// </summary>
    internal DateTimeOffset? TakeOutage()
    {
        lock (_gate)
        {
            var since = _outageSince;
            _outageSince = null;
            return since;
        }
    }

    internal void WriterSucceeded()
    {
        lock (_gate)
        {
            _writerFailingSince = null;
        }
    }

    internal void WriterFailed()
    {
        lock (_gate)
        {
            _writerFailingSince ??= time.GetUtcNow();
        }
    }

    /// <summary>Records the fatal reason; true the first time.</summary>
    internal bool Fail(string reason)
    {
        lock (_gate)
        {
            if (_fatalError is not null)
            {
                return false;
            }

            _fatalError = reason;
            return true;
        }
    }

    internal void RecordSuccess(bool hasContactId)
    {
        Interlocked.Increment(ref _delivered);
        if (!hasContactId)
        {
            Interlocked.Increment(ref _withoutContactId);
        }

        lock (_gate)
        {
            _lastSuccessAt = time.GetUtcNow();
            _consecutiveFailures = 0;
            // An outage ends with the first delivery after the circuit closed: a probe answered 4xx closes the circuit
            // too, but only a delivery shows that n8n takes messages again.
            if (_circuitWasOpen && _circuit == CircuitState.Closed && _failingSince is { } since)
            {
                _circuitWasOpen = false;
                _outageSince = _outageSince is { } earlier && earlier < since ? earlier : since;
                _outageEnded.Writer.TryWrite(true);
            }

            _failingSince = null;
        }
    }

    internal void RecordFailure()
    {
        lock (_gate)
        {
            _lastFailureAt = time.GetUtcNow();
            _failingSince ??= _lastFailureAt;
            _consecutiveFailures++;
        }
    }

    internal void CircuitOpened(TimeSpan breakDuration)
    {
        lock (_gate)
        {
            _circuit = CircuitState.Open;
            _circuitWasOpen = true;
            _circuitOpenUntil = time.GetUtcNow() + breakDuration;
        }
    }

    internal void CircuitHalfOpened()
    {
        lock (_gate)
        {
            _circuit = CircuitState.HalfOpen;
        }
    }

    internal void CircuitClosed()
    {
        lock (_gate)
        {
            _circuit = CircuitState.Closed;
            _circuitOpenUntil = null;
        }
    }
}
