using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Admin.Canary;

/// <summary>What became of one canary (the <c>outcome</c> tag of its metrics).</summary>
public static class CanaryOutcomes
{
    /// <summary>Stored, delivered, and answered by the workflow's canary branch.</summary>
    public const string Ok = "ok";

    /// <summary>Delivered, but the answer does not say <c>canary</c>: a workflow without the canary branch (it may have written to Brevo).</summary>
    public const string Unrecognised = "unrecognised";

    /// <summary>The worker gave the delivery up (<c>delivery_failed</c>).</summary>
    public const string Failed = "failed";

    /// <summary>No answer stored within <c>Canary:Timeout</c>.</summary>
    public const string Timeout = "timeout";

    /// <summary>The API answered, but not 201.</summary>
    public const string Refused = "refused";

    /// <summary>The API could not be reached.</summary>
    public const string Unreachable = "unreachable";
}

/// <summary>
/// Proves the path a lead takes — public API → outbox → worker → n8n → answer stored — with a synthetic lead every
/// <c>Canary:Interval</c>; after its outcome is recorded, the earlier canaries are deleted (<see cref="CanaryRemoval"/>), so
/// only the newest stays. A canary answered without the canary branch may have created a Brevo contact: that one is
/// erased through the CRM (<see cref="LeadErasure"/>, a <c>lead.erased</c> message) before it is deleted. Runs in the
/// admin host, whose database role may delete and erase (the worker's may not). One admin host at a time: a session
/// advisory lock, and a run is skipped while the last canary is younger than half the interval. Metrics on the
/// <c>Hermes.Admin</c> meter: <c>hermes.canary.runs</c> and <c>hermes.canary.duration</c>, by outcome.
/// </summary>
internal sealed class CanaryRunner(
    IOptions<CanaryOptions> options,
    IHttpClientFactory httpClients,
    NpgsqlDataSource dataSource,
    LeadErasure erasure,
    CanaryRemoval removal,
    TimeProvider time,
    IMeterFactory meters,
    ILogger<CanaryRunner> logger) : BackgroundService
{
    public const string HttpClientName = "hermes-canary";

    // Any constant unique among Hermes' advisory locks: "canary" in ASCII.
    private const long LockKey = 0x63616E617279;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly Meter _meter = meters.Create("Hermes.Admin");
    private Counter<long>? _runs;
    private Histogram<double>? _duration;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        _runs = _meter.CreateCounter<long>("hermes.canary.runs", "{run}", "Canary runs, by outcome (ok, unrecognised, failed, timeout, refused, unreachable).");
        _duration = _meter.CreateHistogram<double>("hermes.canary.duration", "s", "From the canary's POST to its stored answer (or its outcome), by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300] });
        CanaryLog.Started(logger, settings.Interval!.Value, settings.ApiUrl!);
        using var timer = new PeriodicTimer(settings.Interval.Value, time);
        do
        {
            try
            {
                await RunOnceAsync(settings, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                CanaryLog.RunFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task RunOnceAsync(CanaryOptions settings, CancellationToken cancellationToken)
    {
        // The lock lives as long as this connection: held for the whole run, released when it closes.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(
            "SELECT pg_try_advisory_lock(@key) AND coalesce((SELECT created_at FROM hermes_leads WHERE is_canary ORDER BY id DESC LIMIT 1) < now() - @half, true)",
            connection))
        {
            command.Parameters.AddWithValue("key", LockKey);
            command.Parameters.AddWithValue("half", settings.Interval!.Value / 2);
            if (await command.ExecuteScalarAsync(cancellationToken) is not true)
            {
                CanaryLog.Skipped(logger);
                return;
            }
        }

        var started = time.GetTimestamp();
        var (leadId, refusal, detail) = await SubmitAsync(settings, cancellationToken);
        if (leadId is null)
        {
            Record(refusal!, started);
            CanaryLog.NotAccepted(logger, refusal!, detail);
        }
        else
        {
            var (outcome, why) = await AwaitAnswerAsync(leadId, settings.Timeout, cancellationToken);
            var seconds = Record(outcome, started);
            if (outcome == CanaryOutcomes.Unrecognised)
            {
                // Answered by a workflow without the canary branch: Brevo may hold a contact for it. Erased through the
                // CRM like a real lead (no audit entry: no operator acted); deleted once n8n confirmed it.
                await erasure.EraseAsync(new ErasureRequest(null, leadId), CancellationToken.None);
            }

            if (outcome == CanaryOutcomes.Ok)
            {
                CanaryLog.Finished(logger, leadId, outcome, seconds);
            }
            else
            {
                CanaryLog.Failed(logger, leadId, outcome, seconds, why);
            }
        }

        // Whatever the outcome: the earlier canaries go, the newest (this one, or the last one stored) stays.
        var removed = await removal.RemoveEarlierAsync(CancellationToken.None);
        CanaryLog.Removed(logger, removed.Removed, removed.KeptInFlight, removed.KeptForCrm);
    }

    private double Record(string outcome, long started)
    {
        var seconds = time.GetElapsedTime(started).TotalSeconds;
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        _runs!.Add(1, tag);
        _duration!.Record(seconds, tag);
        return seconds;
    }

    private async Task<(string? LeadId, string? Refusal, string Detail)> SubmitAsync(CanaryOptions settings, CancellationToken cancellationToken)
    {
        using var client = httpClients.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(settings.ApiUrl!, UriKind.Absolute), "/api/leads"))
        {
            Content = JsonContent.Create(CanaryForm()),
        };
        request.Headers.Add("Hermes-Canary", settings.Secret!.Trim());
        try
        {
            using var response = await client.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if ((int)response.StatusCode != 201)
            {
                return (null, CanaryOutcomes.Refused, $"HTTP {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}");
            }

            return (JsonNode.Parse(text)?["leadId"]?.GetValue<string>() ?? throw new JsonException("The API's 201 has no leadId."), null, "");
        }
        catch (HttpRequestException e)
        {
            return (null, CanaryOutcomes.Unreachable, e.Message);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, CanaryOutcomes.Unreachable, e.Message);
        }
    }

    private async Task<(string Outcome, string Why)> AwaitAnswerAsync(string leadId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = time.GetTimestamp();
        while (true)
        {
            await using (var command = dataSource.CreateCommand("SELECT status, n8n_response_data::text, n8n_error_message FROM hermes_leads WHERE lead_id = $1"))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = leadId });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    var status = reader.IsDBNull(0) ? null : reader.GetString(0);
                    if (status == LeadStatusNames.Forwarded)
                    {
                        var answer = reader.IsDBNull(1) ? null : reader.GetString(1);
                        return SaysCanary(answer)
                            ? (CanaryOutcomes.Ok, "")
                            : (CanaryOutcomes.Unrecognised, "the answer does not say canary: deploy the workflow with the canary branch");
                    }

                    if (status == LeadStatusNames.DeliveryFailed)
                    {
                        return (CanaryOutcomes.Failed, reader.IsDBNull(2) ? "delivery failed" : reader.GetString(2));
                    }
                }
            }

            if (time.GetElapsedTime(deadline) >= timeout)
            {
                return (CanaryOutcomes.Timeout, $"no answer stored within {timeout}");
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    private static bool SaysCanary(string? answer)
    {
        try
        {
            return answer is not null && JsonNode.Parse(answer) is JsonObject o && o["canary"] is JsonValue v && v.TryGetValue(out bool canary) && canary;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A lead no person sent: valid for the API's checks, recognisable in any log, and deleted after the next run.</summary>
    private static JsonObject CanaryForm() => new()
    {
        ["firstName"] = "Hermes",
        ["lastName"] = "Canary",
        ["email"] = "canary@example.com",
        ["country"] = "Canary",
        ["phoneNumber"] = "+00 000 000 0000",
        ["problemDescription"] = "A synthetic lead sent by the Hermes canary to prove the path; it is deleted after the next run.",
        ["agreeToTerms"] = true,
        ["privacyConsent"] = true,
        ["marketingConsent"] = false,
        ["source"] = "hermes-canary",
    };

    public override void Dispose()
    {
        _meter.Dispose();
        base.Dispose();
    }
}

/// <summary>Registers the canary in the admin host.</summary>
internal static class CanaryExtensions
{
    public static WebApplicationBuilder AddHermesCanary(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<CanaryOptions>()
            .BindConfiguration(CanaryOptions.Section)
            .Configure<IConfiguration>(static (o, c) => o.Secret = string.IsNullOrEmpty(c[CanaryOptions.SecretKey]) ? null : c[CanaryOptions.SecretKey])
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<CanaryOptions>, CanaryOptionsValidator>();
        builder.Services.AddHttpClient(CanaryRunner.HttpClientName, static c => c.Timeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSingleton<CanaryRemoval>();
        builder.Services.AddHostedService<CanaryRunner>();
        return builder;
    }
}
