using Hermes.Api.Intake;
using Hermes.Api.Telemetry;
using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;
using Hermes.ServiceDefaults.Http;

// The public intake API: submissions, their OpenAPI document, health and metrics. The admin API and the console are
// another program (Hermes.Admin). The slim builder: no IIS integration, HTTP/3, hosting-startup scan or
// Debug/EventSource log providers, which the API never used and which cost it resident memory (bench/RESULTS.md,
// "The public API, trimmed"). HTTPS endpoints configured under Kestrel:Endpoints keep working.
// Configuration is checked before anything is mapped or started: a refusal exits 78 (ConfigurationRefusal).
return await ConfigurationRefusal.RunAsync(() => Build(args), static async app =>
{
    await using (app)
    {
        app.UseHermesSecurity();
        app.UseHermesProblemDetails();
        app.UseHermesApiTelemetry();
        app.UseHermesIntake();
        app.MapOpenApi(IntakeOpenApi.DocumentPath);
        app.MapHermesIntake();
        app.MapHermesLiveAndReady();
        app.MapHermesDatabaseHealth().OnManagementPort();
        await app.RunAsync();
        return 0;
    }
});

static WebApplication Build(string[] args)
{
    var builder = WebApplication.CreateSlimBuilder(args);
    builder.WebHost.UseKestrelHttpsConfiguration();
    builder.AddHermesServiceDefaults("hermes-api");
    builder.AddHermesPersistence("hermes-api", wakesWorkersItself: true);
    builder.AddHermesDbContext();
    builder.AddHermesSecurity();
    builder.AddHermesApiTelemetry();
    builder.AddHermesDatabaseHealth(HealthEndpoints.ReadyTag, ApiTelemetry.Name);
    builder.Services.AddHermesManagementPort();
    builder.AddHermesProblemDetails();
    builder.AddHermesIntake();
    builder.AddHermesIntakeOpenApi();
    return builder.Build();
}

/// <summary>The API host's entry point, public for WebApplicationFactory.</summary>
public partial class Program;
