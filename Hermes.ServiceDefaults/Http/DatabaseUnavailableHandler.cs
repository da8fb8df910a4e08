using System.Globalization;
using System.Net.Sockets;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.ServiceDefaults.Http;

/// <summary>
/// Turns "the database cannot be reached" (refused or dropped connections, timeouts, an exhausted pool, a server
/// shutting down or starting up, a connection the server or a pooler in front of it ended) into 503 with
/// <c>Retry-After</c>. The request's transaction was rolled back by then, so the client may simply send it again
/// (with the same Idempotency-Key when the commit's fate is unknown).
/// </summary>
/// <remarks>
/// A connection refused for a protocol reason (SQLSTATE 08P01 or 0A000 with severity FATAL: a pooler or proxy that
/// does not accept a start-up parameter, such as PgBouncer's "unsupported startup parameter: options") is a setting to
/// fix, not an outage; it is answered the same way, and logged with its cause and the fix.
/// What the answer says (<see cref="DatabaseUnavailableAnswer"/>) is the host's: the API's says nothing was stored.
/// </remarks>
public sealed partial class DatabaseUnavailableHandler(IProblemDetailsService problems, IOptions<DatabaseUnavailableAnswer> options, ILogger<DatabaseUnavailableHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsUnavailable(exception))
        {
            return false;
        }

        if (RefusedForProtocol(exception) is { } refusal)
        {
            LogRefusedForProtocol(logger, httpContext.Request.Path, refusal.SqlState, refusal.MessageText);
        }
        else
        {
            LogUnavailable(logger, httpContext.Request.Path, exception);
        }

        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.Value.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Temporarily unavailable",
                Detail = options.Value.DetailFor?.Invoke(exception) ?? options.Value.Detail,
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
                // A FATAL error ends the session: the connection, not the request, is what failed (a refused
                // start-up, an authentication or database the settings got wrong, a terminated backend).
                case PostgresException postgres:
                    return postgres.IsTransient || postgres.InvariantSeverity is "FATAL" or "PANIC";
                // Without a server error: the connection failed, broke, or timed out.
                case NpgsqlException:
                case TimeoutException:
                case SocketException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>The server, or a pooler or proxy in front of it, refused the connection for a protocol reason.</summary>
    internal static PostgresException? RefusedForProtocol(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { InvariantSeverity: "FATAL", SqlState: PostgresErrorCodes.ProtocolViolation or PostgresErrorCodes.FeatureNotSupported } refused)
            {
                return refused;
            }
        }

        return null;
    }

    [LoggerMessage(EventId = 3021, Level = LogLevel.Error, Message = "The database connection was refused for a protocol reason while handling {Path} (SQLSTATE {SqlState}: {Reason}); answered 503. " +
        "A pooler or proxy in front of PostgreSQL (PgBouncer, Supavisor, RDS Proxy…) refuses start-up parameters it does not know: remove Options (options=) from the connection string or DATABASE_URL, " +
        "or let the pooler accept it (PgBouncer: add it to ignore_startup_parameters)")]
    private static partial void LogRefusedForProtocol(ILogger logger, string path, string sqlState, string reason);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "Database unavailable while handling {Path}; answered 503")]
    private static partial void LogUnavailable(ILogger logger, string path, Exception exception);
}

/// <summary>The 503 a host answers when its database cannot be reached: its <c>Retry-After</c> and its words.</summary>
public sealed class DatabaseUnavailableAnswer
{
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    public string Detail { get; set; } = "The database cannot be reached; nothing was changed. Please try again shortly.";

    /// <summary>A detail of the host's own for some failures (null: <see cref="Detail"/>).</summary>
    public Func<Exception, string?>? DetailFor { get; set; }
}
