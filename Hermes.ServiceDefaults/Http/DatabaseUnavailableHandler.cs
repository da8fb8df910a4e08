using System.Globalization;
using System.Net.Sockets;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.ServiceDefaults.Http;

/// <summary>
/// Turns "the database cannot be reached" (refused or dropped connections, timeouts, an exhausted pool, a server
/// shutting down or starting up) into 503 with <c>Retry-After</c>. The request's transaction was rolled back by
/// then, so the client may simply send it again (with the same Idempotency-Key when the commit's fate is unknown).
/// What the answer says (<see cref="DatabaseUnavailableAnswer"/>) is the host's: the API's says nothing was stored.
/// </summary>
public sealed partial class DatabaseUnavailableHandler(IProblemDetailsService problems, IOptions<DatabaseUnavailableAnswer> options, ILogger<DatabaseUnavailableHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsUnavailable(exception))
        {
            return false;
        }

        LogUnavailable(logger, httpContext.Request.Path, exception);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.Value.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Temporarily unavailable",
                Detail = options.Value.Detail,
            },
        });
    }

    /// <summary>True for failures of reaching the database, as opposed to errors in what was asked of it.</summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                // Connection errors (08), resources (53), operator intervention such as shutdown (57P), system (58),
                // serialization failures and deadlocks: Npgsql's own list of transient server errors.
                case PostgresException postgres:
                    return postgres.IsTransient;
                // Without a server error: the connection failed, broke, or timed out.
                case NpgsqlException:
                case TimeoutException:
                case SocketException:
                    return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "Database unavailable while handling {Path}; answered 503")]
    private static partial void LogUnavailable(ILogger logger, string path, Exception exception);
}

/// <summary>The 503 a host answers when its database cannot be reached: its <c>Retry-After</c> and its words.</summary>
public sealed class DatabaseUnavailableAnswer
{
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    public string Detail { get; set; } = "The database cannot be reached; nothing was changed. Please try again shortly.";
}
