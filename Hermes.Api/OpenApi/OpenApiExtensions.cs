using System.Runtime.CompilerServices;
using Hermes.Api.Admin;

namespace Hermes.Api.OpenApi;

/// <summary>
/// The OpenAPI document of the API, served at <c>/openapi/v1.json</c>. Where the admin surface is on (it describes the
/// admin endpoints too) and in Development it is generated from the endpoints. The public API serves
/// <c>public-v1.json</c> instead, a snapshot of the document it would generate, because the generator's registration
/// (MVC's API explorer among it) costs it several MiB resident under load (bench/RESULTS.md, "The public API, piece by
/// piece"). <c>OpenApiTests</c> fails when the snapshot differs from what Development generates, and
/// <c>HERMES_UPDATE_OPENAPI=1</c> rewrites it.
/// </summary>
public static class OpenApiExtensions
{
    public const string DocumentPath = "/openapi/v1.json";
    private const string Snapshot = "Hermes.Api.OpenApi.public-v1.json";

    public static WebApplicationBuilder AddHermesOpenApi(this WebApplicationBuilder builder)
    {
        if (GeneratesDocument(builder.Environment, AdminApiKeys.FromConfiguration(builder.Configuration)))
        {
            AddGenerator(builder.Services);
        }

        return builder;
    }

    public static WebApplication MapHermesOpenApi(this WebApplication app)
    {
        if (GeneratesDocument(app.Environment, app.Services.GetRequiredService<AdminApiKeys>()))
        {
            MapGenerator(app);
            return app;
        }

        using var stream = typeof(OpenApiExtensions).Assembly.GetManifestResourceStream(Snapshot)
            ?? throw new InvalidOperationException($"The resource {Snapshot} is missing from {typeof(OpenApiExtensions).Assembly.GetName().Name}.");
        var document = new byte[stream.Length];
        stream.ReadExactly(document);
        app.MapGet(DocumentPath, () => Results.Bytes(document, "application/json; charset=utf-8")).ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// The generator's registration and mapping are kept out of the methods above so that compiling those does not load
    /// the generator's assemblies into a public API that never calls these (PublicApiFootprintTests).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddGenerator(IServiceCollection services)
    {
        services.AddOpenApi(static options => options.AddDocumentTransformer(static (document, _, _) =>
        {
            document.Info.Title = "Hermes API";
            document.Info.Description = "Contact-form lead intake: every lead is stored with its outbox row in one transaction before the answer. " +
                "Errors are RFC 9457 problem details.";
            // Relative to wherever it is fetched from: the same document for every host name, and for the snapshot.
            document.Servers?.Clear();
            return Task.CompletedTask;
        }));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MapGenerator(WebApplication app) => app.MapOpenApi(DocumentPath);

    private static bool GeneratesDocument(IHostEnvironment environment, AdminApiKeys keys) => environment.IsDevelopment() || keys.IsEnabled;
}
