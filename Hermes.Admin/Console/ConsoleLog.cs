namespace Hermes.Admin.OperatorConsole;

/// <summary>The console's log lines. None carries a key: failed sign-ins name the client address bucket only.</summary>
internal static partial class ConsoleLog
{
    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Console sign-in refused for client {Client}: wrong key ({Remaining} more allowed in this window)")]
    public static partial void WrongKey(ILogger logger, string client, long remaining);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Warning, Message = "Console sign-in refused for client {Client}: too many wrong keys, blocked for {Left} more")]
    public static partial void Throttled(ILogger logger, string client, TimeSpan left);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Information, Message = "Console sign-in from client {Client} (key {KeyId})")]
    public static partial void SignedIn(ILogger logger, string client, string keyId);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Information, Message = "Console sign-out (key {KeyId})")]
    public static partial void SignedOut(ILogger logger, string? keyId);

    [LoggerMessage(EventId = 5205, Level = LogLevel.Information, Message = "Console session ended: {Reason}")]
    public static partial void SessionEnded(ILogger logger, string reason);

    [LoggerMessage(EventId = 5206, Level = LogLevel.Information, Message = "Console replay by key {KeyId}: {Count} {Status} outbox row(s) put back to pending")]
    public static partial void Replayed(ILogger logger, string? keyId, long count, string status);

    [LoggerMessage(EventId = 5207, Level = LogLevel.Information, Message = "Console erasure by key {KeyId}: {Count} lead(s) erased ({LeadIds})")]
    public static partial void Erased(ILogger logger, string? keyId, int count, string leadIds);

    [LoggerMessage(EventId = 5208, Level = LogLevel.Information, Message = "Console is on at /console")]
    public static partial void Enabled(ILogger logger);
}
