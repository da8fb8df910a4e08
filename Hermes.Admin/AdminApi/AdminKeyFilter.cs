namespace Hermes.Admin.AdminApi;

/// <summary>Lets a request through only with a valid admin key; otherwise 401 problem details, with or without a key alike.</summary>
internal sealed partial class AdminKeyFilter(AdminApiKeys keys, ILogger<AdminKeyFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var presented = AdminApiKeys.FromRequest(http.Request);
        if (keys.Accepts(presented))
        {
            return await next(context);
        }

        LogRejected(logger, http.Request.Method, http.Request.Path, presented is not null);
        http.Response.Headers.WWWAuthenticate = "Bearer realm=\"hermes-admin\"";
        return TypedResults.Problem(
            title: "Unauthorized",
            detail: "Send a valid admin API key in the X-Api-Key header or as Authorization: Bearer <key>.",
            statusCode: StatusCodes.Status401Unauthorized);
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Admin request {Method} {Path} rejected (key presented: {KeyPresented})")]
    private static partial void LogRejected(ILogger logger, string method, PathString path, bool keyPresented);
}
