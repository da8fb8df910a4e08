using System.Collections.Concurrent;
using System.Diagnostics;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Worker;

/// <summary>One request as the receiver saw it.</summary>
public sealed record ReceivedRequest(int Index, long ReceivedTicks, DateTimeOffset ReceivedAt, string Method, string Path, string Body, IReadOnlyDictionary<string, string> Headers)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string WebhookId => Header("webhook-id") ?? throw new AssertionException("No webhook-id header.");

    public int Attempt => int.Parse(Header("Hermes-Attempt") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// A real HTTP receiver on 127.0.0.1 (Kestrel, port 0) standing in for n8n. <see cref="Behaviour"/> decides each
/// answer: a status and body, a hang, a dropped connection, garbage. Records every request it gets.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();
    private WebApplication? _app;
    private int _next;
    private int _count;

    /// <summary>Decides the answer to a request (by its 0-based index); the default answers 200 with a Brevo contact id.</summary>
    public Func<ReceivedRequest, HttpContext, Task> Behaviour { get; set; } = static (_, context) => Json(200, """{"brevoContactId": 4711}""")(context);

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<ReceivedRequest> Requests => [.. _requests.OrderBy(static r => r.Index)];

    public int Count => Volatile.Read(ref _count);

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        var (app, address) = await LoopbackServer.StartAsync(app => app.Run(receiver.HandleAsync));
        receiver._app = app;
        receiver.Url = new Uri(address, "/webhook/hermes-leads");
        return receiver;
    }

    /// <summary>Answers with <paramref name="status"/> and a body.</summary>
    public static Func<HttpContext, Task> Json(int status, string? body, string contentType = "application/json", params (string Name, string Value)[] headers) => async context =>
    {
        context.Response.StatusCode = status;
        foreach (var (name, value) in headers)
        {
            context.Response.Headers[name] = value;
        }

        if (body is not null)
        {
            context.Response.ContentType = contentType;
            await context.Response.WriteAsync(body);
        }
    };

    /// <summary>Answers with raw bytes.</summary>
    public static Func<HttpContext, Task> Bytes(int status, byte[] body, string contentType = "application/octet-stream") => async context =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        await context.Response.Body.WriteAsync(body);
    };

    /// <summary>Never answers (until the client gives up).</summary>
    public static Func<HttpContext, Task> Hang() => static context => Task.Delay(Timeout.Infinite, context.RequestAborted);

    /// <summary>Drops the connection without an answer.</summary>
    public static Func<HttpContext, Task> Drop() => static context =>
    {
        context.Abort();
        return Task.CompletedTask;
    };

    /// <summary>Answers the requests in turn with <paramref name="answers"/>; the last one repeats.</summary>
    public void AnswerInTurn(params Func<HttpContext, Task>[] answers) =>
        Behaviour = (request, context) => answers[Math.Min(request.Index, answers.Length - 1)](context);

    /// <summary>Waits until at least <paramref name="count"/> requests arrived.</summary>
    public async Task<IReadOnlyList<ReceivedRequest>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(15);
        while (Count < count)
        {
            if (deadline.Elapsed > limit)
            {
                Assert.Fail($"The receiver got {Count} requests within {limit}, expected {count}.");
            }

            await Task.Delay(10);
        }

        return Requests;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var ticks = Stopwatch.GetTimestamp();
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(static h => h.Key, static h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var index = Interlocked.Increment(ref _next) - 1;
        var request = new ReceivedRequest(index, ticks, DateTimeOffset.UtcNow, context.Request.Method, context.Request.Path, body, headers);
        _requests.Enqueue(request);
        // Counted once it is in Requests: a caller that saw the count (WaitForAsync) finds the request there (counted
        // before, one CI run read an empty list after the count said 1).
        Interlocked.Increment(ref _count);
        await Behaviour(request, context);
    }
}
