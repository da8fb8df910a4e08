using Hermes.Outbox.Worker.Delivery;
using Hermes.Outbox.Worker.Development;
using Hermes.Outbox.Worker.Health;
using Hermes.Outbox.Worker.Retention;
using Hermes.Persistence;
using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;

namespace Hermes.Outbox.Worker;

/// <summary>The long-running worker host: dispatcher, wake-up listener, retention and the health endpoint.</summary>
public static class WorkerHost
{
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddHermesServiceDefaults("hermes-worker");
        builder.AddHermesPersistence("hermes-worker");
        builder.AddOutboxDelivery();
        builder.AddHermesRetention();
        builder.AddDevelopmentReceiver();
        builder.AddWorkerHealth();
        return builder;
    }

    /// <summary>The exit code of a worker that stopped because it could not write delivery outcomes (EX_SOFTWARE).</summary>
    public const int FatalExitCode = 70;

    /// <summary>Runs the worker; a configuration refusal exits <see cref="ConfigurationRefusal.ExitCode"/> before anything starts.</summary>
    public static Task<int> RunAsync(string[] args) => ConfigurationRefusal.RunAsync(() => CreateBuilder(args).Build(), static async app =>
    {
        await using (app)
        {
            app.MapDevelopmentReceiver();
            app.MapWorkerHealth();
            // RunAsync disposes the host's services when it returns: take what the exit code needs first.
            var state = app.Services.GetRequiredService<DeliveryState>();
            await app.RunAsync();
            return ExitCodeOf(state);
        }
    });

    /// <summary>0 after a normal stop; <see cref="FatalExitCode"/> when the worker stopped itself (see <see cref="DeliveryState.FatalError"/>).</summary>
    public static int ExitCodeOf(IServiceProvider services) => ExitCodeOf(services.GetRequiredService<DeliveryState>());

    private static int ExitCodeOf(DeliveryState state) => state.FatalError is null ? 0 : FatalExitCode;
}
