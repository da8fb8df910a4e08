using Hermes.Api.Admin;
using Hermes.Persistence;

var builder = WebApplication.CreateBuilder(args);
builder.AddHermesPersistence("hermes-api");
builder.AddHermesAdmin();

var app = builder.Build();
app.MapHermesAdmin();
app.Run();

/// <summary>The API host's entry point, public for WebApplicationFactory.</summary>
public partial class Program;
