using Hermes.Persistence;

var builder = WebApplication.CreateBuilder(args);
builder.AddHermesPersistence("hermes-api");

var app = builder.Build();
app.Run();

/// <summary>The API host's entry point, public for WebApplicationFactory.</summary>
public partial class Program;
