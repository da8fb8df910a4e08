namespace Hermes.Admin;

/// <summary>The admin host's OpenAPI document (admin API and health), generated live at <see cref="DocumentPath"/>.</summary>
public static class AdminOpenApi
{
    public const string DocumentPath = "/openapi/v1.json";

    public static WebApplicationBuilder AddHermesAdminOpenApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(static options => options.AddDocumentTransformer(static (document, _, _) =>
        {
            document.Info.Title = "Hermes admin API";
            document.Info.Description = "Lead history, outbox, replay and GDPR erasure, behind HERMES_ADMIN_API_KEY. Errors are RFC 9457 problem details.";
            document.Servers?.Clear();
            return Task.CompletedTask;
        }));
        return builder;
    }
}
