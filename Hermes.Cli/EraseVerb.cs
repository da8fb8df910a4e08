using System.CommandLine;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Npgsql;

namespace Hermes.Cli;

/// <summary>
/// <c>erase (--email &lt;address&gt; | --lead &lt;leadId&gt;) [--dry-run] [--yes]</c>: GDPR erasure (see <see cref="LeadErasure"/>),
/// asked for on a terminal (<see cref="CliContext.ConfirmAsync"/>): it cannot be undone.
/// </summary>
internal static class EraseVerb
{
    // The leads LeadErasure would take (the same matching: lead id, or email ignoring case), read without locks: what a
    // dry run shows and the question names. The erasure itself decides again under its locks.
    private const string PlanByLeadSql = $"""
        SELECT l.id, l.lead_id, l.erased_at IS NOT NULL,
               (SELECT count(*) FROM hermes_outbox o WHERE o.lead_id = l.id AND o.status = '{OutboxStatusNames.Pending}')
        FROM hermes_leads l WHERE l.lead_id = @value ORDER BY l.id
        """;

    private const string PlanByEmailSql = $"""
        SELECT l.id, l.lead_id, l.erased_at IS NOT NULL,
               (SELECT count(*) FROM hermes_outbox o WHERE o.lead_id = l.id AND o.status = '{OutboxStatusNames.Pending}')
        FROM hermes_leads l WHERE lower(l.email) = lower(@value) ORDER BY l.id
        """;

    public static Command Create(CliContext context)
    {
        var email = new Option<string?>("--email") { Description = "Erase every lead with this email address (case ignored).", HelpName = "address" };
        var lead = new Option<string?>("--lead") { Description = "Erase this lead (its public id, lead_…).", HelpName = "leadId" };
        var dryRun = CliOptions.DryRun("List the leads that would be erased and the pending deliveries that would be cancelled");
        var yes = CliOptions.Yes();
        var json = CliOptions.Json();
        var command = new Command(
            "erase",
            "GDPR erasure: anonymise the personal data of a lead (in the lead, its outbox payloads and attempt logs), cancel its pending " +
            "deliveries, keep the rows and ids, record when, and queue the deletion of its Brevo contact through n8n (lead.erased). " +
            "Refused (exit 1) when no lead matches.")
        {
            email, lead, dryRun, yes, json,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(email) is null) == (result.GetResult(lead) is null))
            {
                result.AddError("Give exactly one of --email or --lead.");
            }
        });
        command.SetAction((parse, cancellationToken) => context.RunAsync(async ct =>
        {
            var request = new ErasureRequest(parse.GetValue(email), parse.GetValue(lead));
            if (request.Validate().Count > 0)
            {
                await context.Error.WriteLineAsync("Give exactly one of --email or --lead, not empty.");
                return ExitCodes.Usage;
            }

            await using var dataSource = context.CreateDataSource();
            if (parse.GetValue(dryRun) || !parse.GetValue(yes))
            {
                var plan = await PlanAsync(dataSource, request, ct);
                if (plan.Leads.Count == 0 || parse.GetValue(dryRun))
                {
                    return await PrintPlanAsync(context, request, plan, parse.GetValue(json));
                }

                var toErase = plan.Leads.Where(static l => !l.AlreadyErased).Select(static l => l.LeadId).ToList();
                if (toErase.Count > 0 && await context.ConfirmAsync(
                    yes: false,
                    $"erase the personal data of {toErase.Count} lead(s) ({CliContext.List(toErase, toErase.Count)}) for good, and cancel " +
                    $"{plan.Leads.Sum(static l => l.PendingDeliveries)} pending delivery(ies)") is { } stop)
                {
                    return stop;
                }
            }

            var result = await new LeadErasure(dataSource).EraseAsync(request, ct, AuditActor.ForCli());
            if (parse.GetValue(json))
            {
                context.WriteJson(result, OperationsJsonContext.Default.ErasureResult);
            }

            if (!result.Found)
            {
                await context.Error.WriteLineAsync(request.Email is not null
                    ? "Refused: no lead has this email address. Nothing was erased."
                    : $"Refused: there is no lead {request.LeadId}. Nothing was erased.");
                return ExitCodes.Problem;
            }

            if (!parse.GetValue(json))
            {
                foreach (var erased in result.Leads)
                {
                    await context.Output.WriteLineAsync(erased.AlreadyErased
                        ? $"{erased.LeadId} (backup id {erased.BackupId}) was already erased on {erased.ErasedAt:u}."
                        : $"Erased {erased.LeadId} (backup id {erased.BackupId}); {erased.CancelledDeliveries} pending delivery(ies) cancelled.");
                    if (erased.InFlightDeliveries > 0)
                    {
                        await context.Output.WriteLineAsync($"  {erased.InFlightDeliveries} of them were being delivered: n8n may still create the Brevo contact. When its id arrives, its erasure is queued too; follow it with GET /api/leads/{erased.LeadId} (admin key) or hermes doctor.");
                    }

                    if (!erased.AlreadyErased && erased.BrevoContactId is not null)
                    {
                        await context.Output.WriteLineAsync($"  Brevo contact {erased.BrevoContactId}: its erasure is queued (lead.erased); n8n deletes it and Hermes records the confirmation.");
                    }
                    else if (erased.CrmErasure is { } crm)
                    {
                        await context.Output.WriteLineAsync($"  In the CRM: {crm}.");
                    }
                }
            }

            return ExitCodes.Ok;
        }, cancellationToken));
        return command;
    }

    private static async Task<ErasurePlan> PlanAsync(NpgsqlDataSource dataSource, ErasureRequest request, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(request.Email is not null ? PlanByEmailSql : PlanByLeadSql);
        command.Parameters.AddWithValue("value", (request.Email ?? request.LeadId)!.Trim());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var leads = new List<PlannedErasure>();
        while (await reader.ReadAsync(cancellationToken))
        {
            leads.Add(new PlannedErasure(reader.GetInt64(0), reader.GetString(1), reader.GetBoolean(2), reader.GetInt64(3)));
        }

        return new ErasurePlan(DryRun: true, leads);
    }

    private static async Task<int> PrintPlanAsync(CliContext context, ErasureRequest request, ErasurePlan plan, bool json)
    {
        if (json)
        {
            context.WriteJson(plan, CliJsonContext.Default.ErasurePlan);
        }

        if (plan.Leads.Count == 0)
        {
            await context.Error.WriteLineAsync(request.Email is not null
                ? "Refused: no lead has this email address. Nothing was erased."
                : $"Refused: there is no lead {request.LeadId}. Nothing was erased.");
            return ExitCodes.Problem;
        }

        if (!json)
        {
            var leads = plan.Leads.Count == 1 ? "lead" : "leads";
            await context.Output.WriteLineAsync($"Would erase {plan.Leads.Count} {leads} (dry run: nothing was changed):");
            foreach (var lead in plan.Leads)
            {
                await context.Output.WriteLineAsync(lead.AlreadyErased
                    ? $"  {lead.LeadId} (backup id {lead.BackupId}): already erased, left as it is"
                    : $"  {lead.LeadId} (backup id {lead.BackupId}): {lead.PendingDeliveries} pending delivery(ies) to cancel");
            }
        }

        return ExitCodes.Ok;
    }
}
