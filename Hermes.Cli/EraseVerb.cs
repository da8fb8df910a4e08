using System.CommandLine;
using Hermes.Persistence.Operations;

namespace Hermes.Cli;

/// <summary><c>erase (--email &lt;address&gt; | --lead &lt;leadId&gt;)</c>: GDPR erasure (see <see cref="LeadErasure"/>).</summary>
internal static class EraseVerb
{
    public static Command Create(CliContext context)
    {
        var email = new Option<string?>("--email") { Description = "Erase every lead with this email address (case ignored).", HelpName = "address" };
        var lead = new Option<string?>("--lead") { Description = "Erase this lead (its public id, lead_…).", HelpName = "leadId" };
        var json = CliOptions.Json();
        var command = new Command(
            "erase",
            "GDPR erasure: anonymise the personal data of a lead (in the lead, its outbox payloads and attempt logs), cancel its pending " +
            "deliveries, keep the rows and ids, record when. Refused (exit 1) when no lead matches. The contact in Brevo is not touched: " +
            "delete it there with the Brevo contact id printed.")
        {
            email, lead, json,
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
            var result = await new LeadErasure(dataSource).EraseAsync(request, ct);
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
                        await context.Output.WriteLineAsync($"  {erased.InFlightDeliveries} of them were being delivered: n8n may still create the Brevo contact. Its id is recorded on the lead when the delivery ends; read it with GET /api/leads/{erased.LeadId} (admin key).");
                    }

                    if (erased.BrevoContactId is not null)
                    {
                        await context.Output.WriteLineAsync($"  Delete Brevo contact {erased.BrevoContactId} in Brevo too: Hermes does not.");
                    }
                }
            }

            return ExitCodes.Ok;
        }, cancellationToken));
        return command;
    }
}
