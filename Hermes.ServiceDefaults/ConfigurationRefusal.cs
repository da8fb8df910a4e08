using System.Reflection;
using Microsoft.Extensions.Options;

namespace Hermes.ServiceDefaults;

/// <summary>
/// A host or the CLI that refuses its configuration exits in order: the message alone on stderr (no log line, no stack
/// trace) and <see cref="ExitCode"/>, before anything listens, connects or logs that it is on. What counts as a refusal:
/// an option validated at start (<see cref="OptionsValidationException"/>, every <c>ValidateOnStart</c> of the host), the
/// <see cref="ProductionGuard"/> and any <see cref="ConfigurationRefusedException"/> thrown while the host is set up. docs/configuration.md, "Exit codes".
/// </summary>
public static class ConfigurationRefusal
{
    /// <summary>EX_CONFIG of sysexits.h: the configuration was refused; restarting will not help until it is changed.</summary>
    public const int ExitCode = 78;

    /// <summary>
    /// Runs a host's whole life: <paramref name="build"/> builds it, then the <see cref="ProductionGuard"/>, every
    /// option validated on start and, in its own program, the management port against the addresses configured
    /// (<see cref="ManagementPortCheck"/>) are checked at once, before <paramref name="run"/> maps and runs it. Returns
    /// <paramref name="run"/>'s exit code, or <see cref="ExitCode"/> after writing the refusal to <paramref name="error"/>
    /// (stderr unless given). Anything else propagates as before. A host driven by a test harness in another program
    /// (WebApplicationFactory, which waits for the host to start) gets the refusal as the entry point's exception, thrown
    /// before anything runs, so the harness sees it.
    /// </summary>
    public static async Task<int> RunAsync<THost>(Func<THost> build, Func<THost, Task<int>> run, TextWriter? error = null)
        where THost : IHost
    {
        var host = build();
        if (RunsAsItsOwnProgram(host.Services))
        {
            try
            {
                Validate(host.Services);
                ManagementPortCheck.RefuseUnlessConfiguredToListen(host.Services);
            }
            catch (Exception e) when (MessageOf(e) is { } message)
            {
                host.Dispose();
                await WriteAsync(message, error);
                return ExitCode;
            }

            try
            {
                return await run(host);
            }
            catch (ConfigurationRefusedException e)
            {
                // A refusal only the started host could see (the addresses it really bound): still an orderly exit.
                await WriteAsync(e.Message, error);
                return ExitCode;
            }
        }
        else
        {
            // Under a harness the refusal is thrown here, before run() could dispose the host: a host that failed to
            // start inside run() was disposed while the harness still read its services (an ObjectDisposedException in
            // place of the refusal, now and then).
            Validate(host.Services);
        }

        return await run(host);
    }

    /// <summary>True when the process's entry assembly is the host's application (not a test runner that loaded it).</summary>
    private static bool RunsAsItsOwnProgram(IServiceProvider services) => string.Equals(
        Assembly.GetEntryAssembly()?.GetName().Name, services.GetRequiredService<IHostEnvironment>().ApplicationName, StringComparison.Ordinal);

    /// <summary>
    /// The <see cref="ProductionGuard"/>, then every <c>ValidateOnStart</c> validation, now rather than when the host
    /// starts; throws <see cref="ProductionGuardException"/> or <see cref="OptionsValidationException"/>.
    /// </summary>
    public static void Validate(IServiceProvider services)
    {
        ProductionGuard.Enforce(services.GetRequiredService<IConfiguration>(), services.GetRequiredService<IHostEnvironment>());
        services.GetService<IStartupValidator>()?.Validate();
    }

    /// <summary>Writes <paramref name="message"/> to <paramref name="error"/> (stderr unless given) and returns <see cref="ExitCode"/>.</summary>
    public static async Task<int> RefuseAsync(string message, TextWriter? error = null)
    {
        await WriteAsync(message, error);
        return ExitCode;
    }

    /// <summary>
    /// The message of a refusal, each problem on a line of its own (the failures of every option under one heading);
    /// null when <paramref name="exception"/> is not one.
    /// </summary>
    public static string? MessageOf(Exception exception)
    {
        if (exception is ConfigurationRefusedException refused)
        {
            return refused.Message;
        }

        var failures = new List<string>();
        return CollectFailures(exception, failures) && failures.Count > 0
            ? "Refusing to start: the configuration is not valid:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", failures)
            : null;
    }

    /// <summary>Adds the failures of an <see cref="OptionsValidationException"/>, or of every one an <see cref="AggregateException"/> holds; false for anything else.</summary>
    private static bool CollectFailures(Exception exception, List<string> failures)
    {
        switch (exception)
        {
            case OptionsValidationException options:
                failures.AddRange(options.Failures.SelectMany(static f => f.Split('\n')).Select(static f => f.Trim()).Where(static f => f.Length > 0));
                return true;
            case AggregateException aggregate when aggregate.InnerExceptions.Count > 0:
                return aggregate.InnerExceptions.All(e => CollectFailures(e, failures));
            default:
                return false;
        }
    }

    private static async Task WriteAsync(string message, TextWriter? error)
    {
        var writer = error ?? Console.Error;
        await writer.WriteLineAsync(message);
        await writer.FlushAsync();
    }
}
