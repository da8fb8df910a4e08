using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Hermes.Persistence;
using Hermes.ServiceDefaults;
using Npgsql;

namespace Hermes.Cli;

/// <summary>
/// What every verb shares: where it writes, its configuration (appsettings, then environment variables, then
/// explicit settings), the database, and the mapping of failures to <see cref="ExitCodes"/>.
/// </summary>
internal sealed class CliContext(TextWriter output, TextWriter error, IEnumerable<KeyValuePair<string, string?>>? settings, CliTerminal terminal)
{
    public const string ApplicationName = "hermes-cli";

    private IConfiguration? _configuration;

    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    public CliTerminal Terminal { get; } = terminal;

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

    public bool IsProduction => string.Equals(EnvironmentName.Trim(), Environments.Production, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The one gate of every verb that deletes or rewrites data: null to go on, else the exit code to stop with. With
    /// <c>--yes</c> it goes on; on a terminal it asks <paramref name="action"/> on stderr (stdout stays the verb's output,
    /// JSON included) and goes on only on "y" or "yes"; without a terminal on stdin it refuses, saying to add --yes.
    /// </summary>
    public async Task<int?> ConfirmAsync(bool yes, string action)
    {
        if (yes)
        {
            return null;
        }

        if (Terminal.Input is not { } keyboard)
        {
            await Error.WriteLineAsync(
                $"Refused: this would {action}, and stdin is not a terminal to ask on. " +
                "Add --yes to do it from a script (or --dry-run to see what it would do). Nothing was changed.");
            return ExitCodes.Usage;
        }

        await Error.WriteAsync($"This will {action}. Go on? Type yes to confirm: ");
        await Error.FlushAsync();
        var answer = (await keyboard.ReadLineAsync())?.Trim();
        if (string.Equals(answer, "yes", StringComparison.OrdinalIgnoreCase) || string.Equals(answer, "y", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        await Error.WriteLineAsync("Not confirmed. Nothing was changed.");
        return ExitCodes.Problem;
    }

    /// <summary>"a, b, c" or "a, b, … and 7 more": ids in a question or a dry run, at most <see cref="CliOptions.Listed"/>.</summary>
    public static string List(IReadOnlyCollection<string> ids, long total)
    {
        var shown = string.Join(", ", ids.Take(CliOptions.Listed));
        return total > Math.Min(ids.Count, CliOptions.Listed) ? $"{shown}, … and {total - Math.Min(ids.Count, CliOptions.Listed)} more" : shown;
    }

    /// <summary>Runs a verb's body and turns configuration and database failures into a message and an exit code.</summary>
    public async Task<int> RunAsync(Func<CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body(cancellationToken);
        }
        catch (CliUsageException e)
        {
            await Error.WriteLineAsync(e.Message);
            return ExitCodes.Usage;
        }
        catch (HermesConfigurationException e)
        {
            // The message alone, as every host refuses its configuration (ConfigurationRefusal).
            return await ConfigurationRefusal.RefuseAsync(e.Message, Error);
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
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true);
        if (string.Equals(environment.Trim(), Environments.Development, StringComparison.OrdinalIgnoreCase))
        {
            // As the hosts read them in Development: the shared store of <UserSecretsId>hermes-development</UserSecretsId>.
            configuration.AddUserSecrets(typeof(CliContext).Assembly, optional: true);
        }

        return configuration
            .AddEnvironmentVariables()
            .AddInMemoryCollection(explicitSettings)
            .Build();
    }

    private static string? Setting(List<KeyValuePair<string, string?>> settings, string key) =>
        settings.LastOrDefault(s => string.Equals(s.Key, key, StringComparison.OrdinalIgnoreCase)).Value;

    private static string? FirstSet(params string?[] values) => values.FirstOrDefault(static v => !string.IsNullOrWhiteSpace(v));
}

/// <summary>A bad argument value found while a verb runs (e.g. <c>migrate --to</c> an unknown migration): exit 2, the message alone.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
