namespace Hermes.Api.Intake;

/// <summary>
/// The public API's OpenAPI document, generated from its endpoints at <see cref="DocumentPath"/>. It is public on
/// purpose: it describes only what the website may already call (the two submission routes, their problem details),
/// so an integrator needs no access to anything else to build against it.
/// </summary>
public static class IntakeOpenApi
{
    public const string DocumentPath = "/openapi/v1.json";

    public static WebApplicationBuilder AddHermesIntakeOpenApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(static options => options.AddDocumentTransformer(static (document, _, _) =>
        {
            document.Info.Title = "Hermes API";
            document.Info.Description = "Contact-form lead intake: every lead is stored with its outbox row in one transaction before the answer. " +
                "Errors are RFC 9457 problem details.";
            // Relative to wherever it is fetched from: the same document for every host name.
            document.Servers?.Clear();
            return Task.CompletedTask;
        }));
        return builder;
    }
}
