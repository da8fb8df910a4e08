using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Hermes.Api.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Observability;

/// <summary>
/// What one API host measured on <c>hermes.leads.accepted</c> and <c>hermes.leads.rejected</c> (by <c>reason</c>)
/// while this listener ran: a <see cref="MeterListener"/> on that host's own <c>Hermes.Api</c> meter only, so other
/// hosts running in the same test process do not count.
/// </summary>
public sealed class RejectionCounts : IDisposable
{
    private readonly ConcurrentDictionary<string, long> _rejected = new(StringComparer.Ordinal);
    private readonly MeterListener _listener;
    private long _accepted;

    public RejectionCounts(IServiceProvider apiServices)
    {
        var meter = apiServices.GetRequiredService<IMeterFactory>().Create(ApiTelemetry.Name);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name is "hermes.leads.rejected" or "hermes.leads.accepted")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "hermes.leads.accepted")
            {
                Interlocked.Add(ref _accepted, value);
                return;
            }

            var reason = "(none)";
            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    reason = tag.Value?.ToString() ?? "(null)";
                }
            }

            _rejected.AddOrUpdate(reason, value, (_, old) => old + value);
        });
        _listener.Start();
    }

    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Every rejection seen, by reason.</summary>
    public IReadOnlyDictionary<string, long> Rejected => new Dictionary<string, long>(_rejected, StringComparer.Ordinal);

    public override string ToString() =>
        $"accepted={Accepted}; rejected: " + string.Join(", ", Rejected.OrderBy(static r => r.Key, StringComparer.Ordinal).Select(static r => $"{r.Key}={r.Value}"));

    public void Dispose() => _listener.Dispose();
}
