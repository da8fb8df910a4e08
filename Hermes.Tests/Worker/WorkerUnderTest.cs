using System.Collections.Concurrent;
using Hermes.Outbox.Worker;
using Hermes.Outbox.Worker.Delivery;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Worker;

/// <summary>A log line the worker wrote.</summary>
public sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message, Exception? Exception = null);

/// <summary>
/// The real worker host (<see cref="WorkerHost.CreateBuilder"/>) on a test database and a test receiver, with
/// test-sized timings that each test may override, and its log kept for assertions.
/// </summary>
public sealed class WorkerUnderTest : IAsyncDisposable
{
    /// <summary>A secret in the Standard Webhooks form (the spec's own test secret).</summary>
    public const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    private static int _counter;
    private readonly WebApplication _app;
    private bool _stopped;

    private WorkerUnderTest(WebApplication app, string workerId, ConcurrentQueue<LogEntry> log)
    {
        _app = app;
        WorkerId = workerId;
        Log = log;
    }

    public string WorkerId { get; }

    public ConcurrentQueue<LogEntry> Log { get; }

    public IServiceProvider Services => _app.Services;

    public DeliveryState State => _app.Services.GetRequiredService<DeliveryState>();

    /// <summary>Cancelled when the host begins to stop (by itself, or by a test).</summary>
    public CancellationToken Stopping => _app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

    /// <summary>The settings every test starts from.</summary>
    public static Dictionary<string, string?> DefaultSettings(string connectionString, Uri webhook, string workerId) => new()
    {
        // Empty values hide whatever the machine's environment may say.
        ["DATABASE_URL"] = "",
        ["DATABASE_DIRECT_URL"] = "",
        ["POSTGRES_URL_NON_POOLING"] = "",
        ["ConnectionStrings:Hermes"] = connectionString,
        ["N8N_WEBHOOK_URL"] = webhook.ToString(),
        ["HERMES_WEBHOOK_SECRET"] = Secret,
        ["Outbox:WorkerId"] = workerId,
        ["Outbox:PollInterval"] = "00:00:00.200",
        ["Outbox:BaseDelay"] = "00:00:00.020",
        ["Outbox:MaxDelay"] = "00:00:00.100",
        ["Outbox:RequestTimeout"] = "00:00:02",
        ["Outbox:Lease"] = "00:00:30",
    };

    public static WebApplication Build(string connectionString, Uri webhook, IDictionary<string, string?>? settings, TimeSpan? shutdownTimeout, Action<IServiceCollection>? services, out string workerId, out ConcurrentQueue<LogEntry> log)
    {
        workerId = $"test-worker-{Interlocked.Increment(ref _counter)}";
        var values = DefaultSettings(connectionString, webhook, workerId);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        workerId = values["Outbox:WorkerId"]!;
        var builder = WorkerHost.CreateBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Configuration.AddInMemoryCollection(values);
        var entries = new ConcurrentQueue<LogEntry>();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(new CollectingLoggerProvider(entries));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromSeconds(10));
        services?.Invoke(builder.Services);
        log = entries;
        return builder.Build();
    }

    /// <summary>Starts the worker; <paramref name="services"/> may replace registrations (a test's clock, say).</summary>
    public static async Task<WorkerUnderTest> StartAsync(string connectionString, Uri webhook, IDictionary<string, string?>? settings = null, TimeSpan? shutdownTimeout = null, Action<IServiceCollection>? services = null)
    {
        var app = Build(connectionString, webhook, settings, shutdownTimeout, services, out var workerId, out var log);
        await app.StartAsync();
        return new WorkerUnderTest(app, workerId, log);
    }

    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _app.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class CollectingLoggerProvider(ConcurrentQueue<LogEntry> entries) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CollectingLogger(categoryName, entries);

        public void Dispose()
        {
        }
    }

    private sealed class CollectingLogger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, formatter(state, exception), exception));
    }
}
