using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Hermes.Persistence.Hosting;

public static class CreatedWithHostExtensions
{
    /// <summary>
    /// Registers <typeparamref name="T"/> as a singleton that the host creates when it starts rather than on first use
    /// (gauges that must exist before the first metrics collection).
    /// </summary>
    public static IServiceCollection AddSingletonCreatedWithHost<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] T>(this IServiceCollection services)
        where T : class
    {
        services.AddSingleton<T>();
        services.AddHostedService<CreatedWithHost<T>>();
        return services;
    }

    private sealed class CreatedWithHost<T>(T service) : IHostedService
        where T : class
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(service);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
