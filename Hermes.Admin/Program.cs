using Hermes.Admin.AdminApi;
using Hermes.Admin.Canary;
using Hermes.Admin.OperatorConsole;
using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;
using Hermes.ServiceDefaults.Http;

namespace Hermes.Admin;

/// <summary>
/// The admin host: the admin API, the operator console and their OpenAPI document, under the admin login and behind
/// HERMES_ADMIN_API_KEY (it does not start without one). Never published to the internet. A class of its own (not
/// top-level statements) so that its name does not clash with the public API's <c>Program</c> where both are loaded.
/// </summary>
public sealed class AdminProgram
{
    private AdminProgram()
    {
    }

    /// <summary>Configuration is checked before anything is mapped or started: a refusal exits 78 (ConfigurationRefusal).</summary>
    public static Task<int> Main(string[] args) => ConfigurationRefusal.RunAsync(() => Build(args), static async app =>
    {
        await using (app)
        {
            app.UseHermesSecurity();
            app.UseHermesProblemDetails();
            app.MapOpenApi(AdminOpenApi.DocumentPath);
            app.MapHermesAdmin();
            app.MapHermesConsole();
            app.MapHermesLiveAndReady();
            app.MapHermesDatabaseHealth().OnManagementPort();
            await app.RunAsync();
            return 0;
        }
    });

    private static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddHermesServiceDefaults("hermes-admin");
        builder.AddHermesPersistence("hermes-admin");
        builder.AddHermesSecurity();
        builder.AddHermesDatabaseHealth(HealthEndpoints.ReadyTag, "Hermes.Admin");
        builder.Services.AddHermesManagementPort();
        builder.AddHermesProblemDetails();
        builder.AddHermesAdmin();
        builder.AddHermesConsole();
        builder.AddHermesAdminOpenApi();
        builder.AddHermesCanary();
        return builder.Build();
    }
}
