using System.Globalization;

namespace Hermes.Bench.Api;

/// <summary>CPU seconds used so far by the API process, by the PostgreSQL server (all its processes), and by the load generators.</summary>
internal sealed record CpuSample(double Api, double Postgres, double Clients)
{
    public static CpuSample Take(int apiPid, string dataDirectory)
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        var postgres = 0.0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || Stat(pid) is not { } stat)
            {
                continue;
            }

            // The postmaster with the backends it has reaped (cutime, cstime), plus the backends still running.
            if (pid == postmaster)
            {
                postgres += stat.Own + stat.Children;
            }
            else if (stat.ParentPid == postmaster)
            {
                postgres += stat.Own;
            }
        }

        // wrk and pgbench are children of this process, reaped when they finish.
        var self = Stat(Environment.ProcessId)!.Value;
        return new CpuSample(Stat(apiPid)?.Own ?? 0, postgres, self.Children);
    }

    public static CpuSample operator -(CpuSample after, CpuSample before) =>
        new(after.Api - before.Api, after.Postgres - before.Postgres, after.Clients - before.Clients);

    private static (int ParentPid, double Own, double Children)? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // Fields after the command name, which is in parentheses and may contain spaces.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        const double ticks = 100.0; // USER_HZ
        double F(int field) => long.Parse(fields[field - 3], CultureInfo.InvariantCulture) / ticks;
        return (int.Parse(fields[4 - 3], CultureInfo.InvariantCulture), F(14) + F(15), F(16) + F(17));
    }
}
