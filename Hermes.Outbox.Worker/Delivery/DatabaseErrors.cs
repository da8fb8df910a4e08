using System.Net.Sockets;
using Npgsql;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>The one place that says which database errors are worth the same statement again.</summary>
public static class DatabaseErrors
{
    /// <summary>
    /// The database could not be used just now: it is unreachable, timed out, or refused (any Npgsql error). The
    /// claim and the reads around it pause and try again; they hold nothing a later try could not redo.
    /// </summary>
    public static bool IsDatabaseTrouble(Exception e) => e is NpgsqlException or TimeoutException or IOException or SocketException;

    /// <summary>
    /// The same write may succeed when tried again: a broken or timed-out connection, a deadlock, a serialisation
    /// failure, a server shutting down or short of resources (Npgsql's <see cref="NpgsqlException.IsTransient"/>).
    /// Anything else — a value PostgreSQL refuses, a text no encoder can write, a constraint, a missing permission —
    /// fails the same way every time, so the outcome writer isolates the row instead of retrying the batch.
    /// </summary>
    public static bool IsTransient(Exception e) => e switch
    {
        // A serialisation failure or a deadlock is PostgreSQL's own "try again".
        PostgresException pg => pg.IsTransient || pg.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected,
        NpgsqlException npgsql => npgsql.IsTransient,
        TimeoutException or IOException or SocketException => true,
        _ => false,
    };

    /// <summary>What went wrong, without the values involved (a refused value's text may be personal data).</summary>
    public static string Describe(Exception e) => e switch
    {
        PostgresException pg => Hermes.Domain.SafeText.Cut($"SQLSTATE {pg.SqlState}: {pg.MessageText}", 200),
        _ => e.GetType().Name,
    };
}
