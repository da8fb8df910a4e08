using System.Collections.Concurrent;
using System.Text;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Observability;

/// <summary>One OTLP/HTTP export as the collector received it: the signal (traces, metrics, logs) and the protobuf body.</summary>
public sealed record OtlpExport(string Signal, string ContentType, byte[] Body)
{
    /// <summary>Whether the body carries these UTF-8 bytes (protobuf keeps strings as plain UTF-8).</summary>
    public bool Contains(string text) => Contains(Encoding.UTF8.GetBytes(text));

    /// <summary>Whether the body carries these raw bytes (e.g. a 16-byte trace id).</summary>
    public bool Contains(ReadOnlySpan<byte> bytes) => Body.AsSpan().IndexOf(bytes) >= 0;

    /// <summary>
    /// The resource's <c>service.name</c>: the string value of the first <c>KeyValue</c> with that key, read from the
    /// protobuf (<c>KeyValue.value</c> is field 2, <c>AnyValue.string_value</c> field 1, both length-delimited).
    /// </summary>
    public string? ServiceName()
    {
        ReadOnlySpan<byte> body = Body;
        var key = Encoding.UTF8.GetBytes("service.name");
        var at = body.IndexOf(key);
        if (at < 0)
        {
            return null;
        }

        var rest = body[(at + key.Length)..];
        if (rest.Length < 2 || rest[0] != 0x12)
        {
            return null;
        }

        rest = rest[1..];
        _ = ReadVarint(ref rest);
        if (rest.Length < 2 || rest[0] != 0x0A)
        {
            return null;
        }

        rest = rest[1..];
        var length = ReadVarint(ref rest);
        return length <= rest.Length ? Encoding.UTF8.GetString(rest[..length]) : null;
    }

    private static int ReadVarint(ref ReadOnlySpan<byte> span)
    {
        var value = 0;
        for (var shift = 0; span.Length > 0 && shift < 32; shift += 7)
        {
            var b = span[0];
            span = span[1..];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        return value;
    }
}

/// <summary>
/// A stand-in OpenTelemetry collector on 127.0.0.1: accepts OTLP/HTTP (protobuf) on <c>/v1/traces</c>,
/// <c>/v1/metrics</c> and <c>/v1/logs</c>, answers 200 with an empty export response, and keeps every body.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<OtlpExport> _exports;

    private OtlpCollector(WebApplication app, ConcurrentQueue<OtlpExport> exports, Uri endpoint)
    {
        _app = app;
        _exports = exports;
        Endpoint = endpoint;
    }

    /// <summary>The base endpoint, as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> takes it.</summary>
    public Uri Endpoint { get; }

    public IReadOnlyList<OtlpExport> Exports => [.. _exports];

    public static async Task<OtlpCollector> StartAsync()
    {
        var exports = new ConcurrentQueue<OtlpExport>();
        var (app, address) = await LoopbackServer.StartAsync(app => app.MapPost("/v1/{signal}", async (string signal, HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            exports.Enqueue(new OtlpExport(signal, request.ContentType ?? "", body.ToArray()));
            return Results.Bytes([], "application/x-protobuf");
        }));
        return new OtlpCollector(app, exports, address);
    }

    /// <summary>Waits until some export of <paramref name="signal"/> satisfies <paramref name="match"/>.</summary>
    public async Task<OtlpExport> WaitForAsync(string signal, Func<OtlpExport, bool> match, string what, TimeSpan? timeout = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(30)))
        {
            if (_exports.FirstOrDefault(e => e.Signal == signal && match(e)) is { } found)
            {
                return found;
            }

            await Task.Delay(100);
        }

        var seen = string.Join(", ", _exports.GroupBy(static e => e.Signal).Select(static g =>
            $"{g.Key}: {g.Count()} from {string.Join("/", g.Select(static e => e.ServiceName() ?? "(no service.name)").Distinct())}"));
        throw new AssertionException($"No {signal} export {what} within the time allowed (exports seen: {(seen.Length == 0 ? "none" : seen)}).");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
