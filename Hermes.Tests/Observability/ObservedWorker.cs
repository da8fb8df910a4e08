using System.Collections.Concurrent;
using Hermes.Outbox.Worker;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Outbox.Worker.Health;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Observability;

/// <summary>A log line with the scope values that were active when it was written.</summary>
public sealed record ScopedLogEntry(string Category, LogLevel Level, int EventId, string Message, IReadOnlyDictionary<string, object?> Scope);

/// <summary>Keeps every log line (Debug and up) with its scopes.</summary>
public sealed class ScopeCapturingLogs : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ConcurrentQueue<ScopedLogEntry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(ScopeCapturingLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
            owner._scopes.ForEachScope(static (value, into) =>
            {
                if (value is IEnumerable<KeyValuePair<string, object?>> pairs)
                {
                    foreach (var (key, item) in pairs)
                    {
                        into[key] = item;
                    }
                }
            }, scope);
            owner.Entries.Enqueue(new ScopedLogEntry(category, logLevel, eventId.Id, formatter(state, exception) + (exception is null ? "" : " " + exception), scope));
        }
    }
}

/// <summary>The real worker host with its health endpoints mapped, on 127.0.0.1 port 0, logging into <see cref="Logs"/>.</summary>
public sealed class ObservedWorker : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ObservedWorker(WebApplication app, ScopeCapturingLogs logs)
    {
        _app = app;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Http = new HttpClient { BaseAddress = new Uri(address) };
    }

    public ScopeCapturingLogs Logs { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    public DeliveryState State => _app.Services.GetRequiredService<DeliveryState>();

    public static async Task<ObservedWorker> StartAsync(string connectionString, Uri webhook, IDictionary<string, string?>? settings = null)
    {
        var values = WorkerUnderTest.DefaultSettings(connectionString, webhook, "observed-" + Guid.NewGuid().ToString("N")[..8]);
        values["Health:PendingCacheDuration"] = "00:00:00";
        values["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        values["Logging:LogLevel:Default"] = "Debug";
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var builder = WorkerHost.CreateBuilder(["--urls", "http://127.0.0.1:0", "--environment", "Staging"]);
        builder.Configuration.AddInMemoryCollection(values);
        var logs = new ScopeCapturingLogs();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(logs);
        var app = builder.Build();
        app.MapWorkerHealth();
        await app.StartAsync();
        return new ObservedWorker(app, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
