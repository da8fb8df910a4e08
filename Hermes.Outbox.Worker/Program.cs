using Hermes.Persistence;

namespace Hermes.Outbox.Worker;

/// <summary>The worker's executable: the outbox dispatcher host.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddHermesPersistence("hermes-worker");
        await using var app = builder.Build();
        await app.RunAsync();
        return 0;
    }
}
