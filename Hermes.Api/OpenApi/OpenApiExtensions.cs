namespace Hermes.Api.OpenApi;

/// <summary>The OpenAPI document of the API, served at <c>/openapi/v1.json</c>.</summary>
public static class OpenApiExtensions
{
    public static WebApplicationBuilder AddHermesOpenApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(static options => options.AddDocumentTransformer(static (document, _, _) =>
        {
            document.Info.Title = "Hermes API";
            document.Info.Description = "Contact-form lead intake: every lead is stored with its outbox row in one transaction before the answer. " +
                "Errors are RFC 9457 problem details.";
            return Task.CompletedTask;
        }));
        return builder;
    }
}
