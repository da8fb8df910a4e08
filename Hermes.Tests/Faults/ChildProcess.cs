using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Hermes.Persistence.Local;

namespace Hermes.Tests.Faults;

/// <summary>
/// A built Hermes host (<c>dotnet X.dll …</c>) running as its own process, with its output kept for diagnostics.
/// Every process started here is killed in teardown and, should the test run itself end abruptly, by the
/// <see cref="AppDomain.ProcessExit"/> hook: none outlives the run.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    static ChildProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += static (_, _) =>
        {
            foreach (var process in Running.Values)
            {
                TryKill(process);
            }
        };
    }

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Where Kestrel listens, once it said so.</summary>
    public Uri? Address => _listening.Task.IsCompletedSuccessfully ? _listening.Task.Result : null;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The built host assembly of <paramref name="project"/>, e.g. Hermes.Api, next to its own dependencies.</summary>
    public static string HostAssembly(string project)
    {
        var path = Path.Combine(Deploy.RepositoryFiles.Root, project, "bin", Deploy.RepositoryFiles.BuildConfiguration, "net10.0", project + ".dll");
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is not built: run dotnet build first.");
    }

    /// <summary>Starts <c>dotnet <paramref name="assembly"/> <paramref name="args"/></c> (or a native executable with its arguments) listening on 127.0.0.1, a free port.</summary>
    public static ChildProcess Start(string name, string assembly, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartOwnedBy(Environment.ProcessId, name, assembly, environment, args);

    /// <summary>
    /// As <see cref="Start"/>, the child being killed when process <paramref name="ownerProcessId"/> ends, however it
    /// ends: a watchdog (<c>setsid sh</c>, outside this process group) polls both every second, so a test run that is
    /// itself killed (SIGKILL, a CI timeout) leaves no API or worker behind.
    /// </summary>
    public static ChildProcess StartOwnedBy(int ownerProcessId, string name, string assembly, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        // A host assembly runs under dotnet; a native executable (the native worker) by itself.
        var isAssembly = assembly.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var start = new ProcessStartInfo(isAssembly ? Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet" : assembly)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
        };
        if (isAssembly)
        {
            start.ArgumentList.Add(assembly);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        foreach (var key in new[] { "DATABASE_URL", "ConnectionStrings__Hermes", "DATABASE_DIRECT_URL", "POSTGRES_URL_NON_POOLING", "ASPNETCORE_URLS", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT" })
        {
            start.Environment.Remove(key);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Exited += (_, _) => child._listening.TrySetException(new InvalidOperationException($"{name} exited before it listened:\n{child.Output}"));
        process.Start();
        Running[process.Id] = process;
        Watch(ownerProcessId, process.Id);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits until Kestrel says where it listens.</summary>
    public async Task<Uri> WaitListeningAsync(TimeSpan timeout)
    {
        try
        {
            return await _listening.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not listen within {timeout}:\n{Output}");
        }
    }

    /// <summary>
    /// SIGTERM, as Docker and Kubernetes stop a container, then waits for the process to exit by itself (killed after
    /// <paramref name="timeout"/>); its exit code.
    /// </summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        return await WaitForExitAsync(timeout, " of SIGTERM");
    }

    /// <summary>Waits for the process to end by itself (a one-shot verb, a refused start; killed after <paramref name="timeout"/>); its exit code.</summary>
    public Task<int> WaitForExitAsync(TimeSpan timeout) => WaitForExitAsync(timeout, "");

    private async Task<int> WaitForExitAsync(TimeSpan timeout, string after)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            await KillAsync();
            throw new TimeoutException($"{Name} did not exit within {timeout}{after}:\n{Output}");
        }

        Running.TryRemove(_process.Id, out _);
        return _process.ExitCode;
    }

    /// <summary>kill -9: no shutdown, no hand-back, nothing flushed.</summary>
    public async Task KillAsync()
    {
        TryKill(_process);
        await _process.WaitForExitAsync();
        Running.TryRemove(_process.Id, out _);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        Running.TryRemove(_process.Id, out _);
        _process.Dispose();
    }

    private static void Watch(int ownerProcessId, int childProcessId)
    {
        var script = $"exec </dev/null >/dev/null 2>&1; while kill -0 {childProcessId}; do kill -0 {ownerProcessId} || {{ kill -9 {childProcessId}; exit 0; }}; sleep 1; done";
        using var watchdog = LocalProcesses.StartDetachedShell(script);
    }

    private static void TryKill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 200_000)
            {
                _output.AppendLine(line);
            }
        }

        if (ListeningPattern().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningPattern();
}
