namespace Hermes.Api.Admin;

/// <summary>The admin HTTP API (lead look-up, outbox list, stats, replay, erase), behind <c>HERMES_ADMIN_API_KEY</c>.</summary>
public static class AdminEndpoints
{
    public static WebApplicationBuilder AddHermesAdmin(this WebApplicationBuilder builder) => builder;

    public static WebApplication MapHermesAdmin(this WebApplication app) => app;
}
