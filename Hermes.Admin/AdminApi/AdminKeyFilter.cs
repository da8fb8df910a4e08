using Hermes.Persistence.Operations;

namespace Hermes.Admin.AdminApi;

/// <summary>
/// Lets a request through only with a valid admin key; otherwise 401 problem details, with or without a key alike. A
/// wrong key counts against the client's address (<see cref="AdminKeyThrottle"/>, the console's rule); a client that has
/// sent too many gets 429 with <c>Retry-After</c> (the time left in its window), right key or not, until its window ends. A request without any key
/// is not a guess and is not counted. No key is ever logged, right or wrong.
/// </summary>
internal sealed partial class AdminKeyFilter(AdminApiKeys keys, AdminKeyThrottle throttle, ILogger<AdminKeyFilter> logger) : IEndpointFilter
{
    /// <summary>Where the filter leaves the short id of the accepted key (<see cref="AdminApiKeys.IdOf"/>) for the audit trail.</summary>
    public const string KeyIdItem = "hermes:admin-key-id";

    /// <summary>Who the audit trail names for a request this filter let through.</summary>
    public static AuditActor ActorOf(HttpContext http) =>
        AuditActor.ForKey(http.Items[KeyIdItem] as string ?? throw new InvalidOperationException("The admin key filter did not run for this request."));

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var presented = AdminApiKeys.FromRequest(http.Request);
        var client = AdminKeyThrottle.ClientOf(http);
        if (presented is not null && throttle.BlockedFor(client) is { } left)
        {
            LogThrottled(logger, http.Request.Method, http.Request.Path, client, left);
            var retryAfter = AdminKeyThrottle.RetryAfterSeconds(left);
            http.Response.Headers.RetryAfter = retryAfter;
            return TypedResults.Problem(
                title: "Too many wrong admin keys",
                detail: $"Too many wrong admin keys from your address; try again in {retryAfter} seconds.",
                statusCode: StatusCodes.Status429TooManyRequests,
                type: "https://www.rfc-editor.org/rfc/rfc6585#section-4");
        }

        if (keys.IdOf(presented) is { } keyId)
        {
            http.Items[KeyIdItem] = keyId;
            return await next(context);
        }

        if (presented is null)
        {
            LogMissing(logger, http.Request.Method, http.Request.Path, client);
        }
        else
        {
            LogWrongKey(logger, http.Request.Method, http.Request.Path, client, throttle.RecordFailure(client));
        }

        http.Response.Headers.WWWAuthenticate = "Bearer realm=\"hermes-admin\"";
        return TypedResults.Problem(
            title: "Unauthorized",
            detail: "Send a valid admin API key in the X-Api-Key header or as Authorization: Bearer <key>.",
            statusCode: StatusCodes.Status401Unauthorized);
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Admin request {Method} {Path} rejected for client {Client}: wrong key ({Remaining} more allowed in this window)")]
    private static partial void LogWrongKey(ILogger logger, string method, PathString path, string client, long remaining);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Admin request {Method} {Path} rejected for client {Client}: no key")]
    private static partial void LogMissing(ILogger logger, string method, PathString path, string client);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "Admin request {Method} {Path} refused for client {Client}: too many wrong keys, blocked for {Left} more")]
    private static partial void LogThrottled(ILogger logger, string method, PathString path, string client, TimeSpan left);
}
