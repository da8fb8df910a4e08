using System.CommandLine;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary><c>doctor</c>: integrity and health checks (see <see cref="IntegrityDoctor"/>); exits 1 when one finds a problem.</summary>
internal static class DoctorVerb
{
    public static Command Create(CliContext context)
    {
        var defaults = new DoctorSettings();
        var pendingOlderThan = CliOptions.Duration("--pending-older-than", defaults.PendingOlderThan, "Report pending rows older than this");
        var leaseGrace = CliOptions.Duration("--lease-grace", defaults.LeaseGrace, "Report leases that ended longer ago than this without a worker taking the row over");
        var erasuresUnconfirmedAfter = CliOptions.Duration("--erasures-unconfirmed-after", defaults.ErasuresUnconfirmedAfter,
            "Report erased leads whose Brevo contact the CRM has not confirmed erased this long after the erase");
        var xminOlderThan = CliOptions.Duration("--xmin-older-than", defaults.XminHorizonOlderThan, "Name the transactions, prepared transactions and slots holding back vacuum for longer than this");
        var json = CliOptions.Json();
        var command = new Command(
            "doctor",
            "Check integrity and health: pending migrations, leads without an outbox row, outbox rows without a lead, duplicate lead ids, " +
            "missing required fields, stale pending rows, failed rows, expired leases, erasures the CRM has not confirmed, and that the hot " +
            "queries use their indexes; it warns about the queue's vacuum health (xmin horizon, dead tuples, index bloat, autovacuum off) " +
            "and attempt log days missing ahead. " +
            "Exits 1 when a check finds a problem; warnings alone exit 0.")
        {
            pendingOlderThan, leaseGrace, erasuresUnconfirmedAfter, xminOlderThan, json,
        };
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            await using var dataSource = context.CreateDataSource();
            var report = await new IntegrityDoctor(dataSource).ExamineAsync(
                new DoctorSettings
                {
                    PendingOlderThan = parse.GetValue(pendingOlderThan),
                    LeaseGrace = parse.GetValue(leaseGrace),
                    ErasuresUnconfirmedAfter = parse.GetValue(erasuresUnconfirmedAfter),
                    XminHorizonOlderThan = parse.GetValue(xminOlderThan),
                }, ct);
            if (parse.GetValue(json))
            {
                context.WriteJson(report, OperationsJsonContext.Default.DoctorReport);
            }
            else
            {
                var width = report.Findings.Max(static f => f.Check.Length);
                foreach (var finding in report.Findings)
                {
                    await context.Output.WriteLineAsync($"{(finding.IsProblem ? "PROBLEM" : finding.Severity == DoctorFinding.Warning ? "WARNING" : "ok"),-8} {finding.Check.PadRight(width)}  {finding.Summary}");
                    foreach (var example in finding.Examples)
                    {
                        await context.Output.WriteLineAsync($"{"",-8} {"".PadRight(width)}    {example}");
                    }
                }

                var problems = report.Findings.Count(static f => f.IsProblem);
                var warnings = report.Findings.Count(static f => f.Severity == DoctorFinding.Warning);
                await context.Output.WriteLineAsync(problems == 0 ? "No problem found." : $"{problems} check(s) found a problem.");
                if (warnings > 0)
                {
                    await context.Output.WriteLineAsync($"{warnings} check(s) warn.");
                }
            }

            return report.Healthy ? ExitCodes.Ok : ExitCodes.Problem;
        }, cancellationToken));
        return command;
    }
}
