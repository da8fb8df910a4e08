using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Hermes.Persistence;
using Npgsql;

namespace Hermes.Cli;

/// <summary>
/// What every verb shares: where it writes, its configuration (appsettings, then environment variables, then
/// explicit settings), the database, and the mapping of failures to <see cref="ExitCodes"/>.
/// </summary>
internal sealed class CliContext(TextWriter output, TextWriter error, IEnumerable<KeyValuePair<string, string?>>? settings)
{
    public const string ApplicationName = "hermes-cli";

    private IConfiguration? _configuration;

    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    public IConfiguration Configuration => _configuration ??= BuildConfiguration();

    /// <summary>The host environment as .NET hosts read it: <c>ASPNETCORE_ENVIRONMENT</c>, else <c>DOTNET_ENVIRONMENT</c>, else Production.</summary>
    public string EnvironmentName =>
        FirstSet(Configuration["ASPNETCORE_ENVIRONMENT"], Configuration["DOTNET_ENVIRONMENT"]) ?? Environments.Production;

    public HermesDatabase Database => HermesDatabase.FromConfiguration(Configuration, ApplicationName);

    public NpgsqlDataSource CreateDataSource(bool direct = false)
    {
        var database = Database;
        return NpgsqlDataSource.Create(direct ? database.DirectConnectionString ?? database.ConnectionString : database.ConnectionString);
    }

    public void WriteJson<T>(T value, JsonTypeInfo<T> typeInfo) => Output.WriteLine(JsonSerializer.Serialize(value, typeInfo));

    /// <summary>Runs a verb's body and turns configuration and database failures into a message and an exit code.</summary>
    public async Task<int> RunAsync(Func<CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body(cancellationToken);
        }
        catch (HermesConfigurationException e)
        {
            await Error.WriteLineAsync(e.Message);
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Error.WriteLineAsync("Interrupted.");
            return ExitCodes.Failure;
        }
        catch (NpgsqlException e)
        {
            var where = TryDescribeDatabase();
            await Error.WriteLineAsync(e is PostgresException pg
                ? $"The database ({where}) refused the statement: {pg.SqlState} {pg.MessageText}"
                : $"Cannot reach the database ({where}): {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private string TryDescribeDatabase()
    {
        try
        {
            return Database.ToString();
        }
        catch (HermesConfigurationException)
        {
            return "not configured";
        }
    }

    private IConfigurationRoot BuildConfiguration()
    {
        var explicitSettings = settings?.ToList() ?? [];
        var environment = FirstSet(
            Setting(explicitSettings, "ASPNETCORE_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT"),
            Setting(explicitSettings, "DOTNET_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT")) ?? Environments.Production;
        return new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .AddInMemoryCollection(explicitSettings)
            .Build();
    }

    private static string? Setting(List<KeyValuePair<string, string?>> settings, string key) =>
        settings.LastOrDefault(s => string.Equals(s.Key, key, StringComparison.OrdinalIgnoreCase)).Value;

    private static string? FirstSet(params string?[] values) => values.FirstOrDefault(static v => !string.IsNullOrWhiteSpace(v));
}
