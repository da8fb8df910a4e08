namespace Hermes.ServiceDefaults.Http;

/// <summary>
/// Every error a Hermes host answers is an RFC 9457 problem detail: unhandled exceptions (a database outage becomes 503
/// with Retry-After, anything else 500 without internals), and empty error responses such as 404 and 405.
/// </summary>
public static class ProblemDetailsExtensions
{
    public static WebApplicationBuilder AddHermesProblemDetails(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseUnavailableAnswer>();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<DatabaseUnavailableHandler>();
        builder.Services.AddExceptionHandler<BadRequestHandler>();
        return builder;
    }

    public static WebApplication UseHermesProblemDetails(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }
}
