using System.Net.Mime;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Hermes.Admin.AdminApi;

/// <summary>
/// The admin HTTP API, behind <c>HERMES_ADMIN_API_KEY</c> (see <see cref="AdminApiKeys"/>): a lead with its delivery
/// history, lead search, the outbox page by page, outbox statistics and delivery activity, replay and GDPR erasure, and
/// the audit trail (every replay and erase through it is recorded there with the key's short id). It
/// calls the same operations (<c>Hermes.Persistence.Operations</c>) as the CLI's verbs (hermes) and the console, and
/// reads its list queries with <see cref="AdminQueries"/>, as the console does. The admin host does not start without a key.
/// Errors are RFC 9457 problem details.
/// </summary>
public static partial class AdminEndpoints
{
    public static WebApplicationBuilder AddHermesAdmin(this WebApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.Services.AddHermesOperations();
        builder.Services.TryAddSingleton(TimeProvider.System);
        // Checked with the host's other options when it starts, before anything is mapped: a missing or weak key stops
        // the admin host naming the setting (ConfigurationRefusal exits 78 with the message).
        builder.Services.AddSingleton(static sp => AdminApiKeys.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddOptions<AdminApiKeysChecked>().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AdminApiKeysChecked>, AdminApiKeysCheck>();
        builder.Services.AddOptions<AdminKeyThrottleOptions>().BindConfiguration(AdminKeyThrottleOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AdminKeyThrottleOptions>, AdminKeyThrottleOptionsValidator>();
        builder.Services.AddSingleton<AdminKeyThrottle>();
        builder.Services.AddSingleton<AdminKeyFilter>();
        return builder;
    }

    public static WebApplication MapHermesAdmin(this WebApplication app)
    {
        var keys = app.Services.GetRequiredService<AdminApiKeys>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdminEndpoints).FullName!);

        var api = app.MapGroup("/api").AddEndpointFilter<AdminKeyFilter>().WithTags("Admin")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        api.MapGet("/leads/{leadId}", GetLeadAsync).WithName("GetLead")
            .WithSummary("A lead with its outbox rows and delivery history");
        api.MapGet("/admin/outbox", ListOutboxAsync).WithName("ListOutbox")
            .WithSummary("Outbox rows, newest first: ?status=failed&since=2h&until=<time>&limit=50&cursor=<nextCursor>")
            .ProducesValidationProblem();
        api.MapGet("/admin/leads", SearchLeadsAsync).WithName("SearchLeads")
            .WithSummary("Leads, newest first: ?email=<any case>&leadId=<id>&from=<time>&to=<time>&canary=true (the canaries alone)&limit=50&cursor=<nextCursor>")
            .ProducesValidationProblem();
        api.MapGet("/admin/activity", GetActivityAsync).WithName("GetDeliveryActivity")
            .WithSummary("Leads per status, attempts per hour for 24 hours, the last attempt and delivery, overdue rows, active workers");
        api.MapGet("/admin/outbox/stats", GetStatsAsync).WithName("GetOutboxStats")
            .WithSummary("Rows per status, oldest pending row, last hour's deliveries and failures");
        api.MapPost("/admin/outbox/replay", ReplayAsync).WithName("ReplayOutbox")
            .WithSummary("Put failed, delivered or cancelled rows back to pending and wake the workers")
            .Accepts<ReplayRequest>(MediaTypeNames.Application.Json)
            .Produces<ReplayResult>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        api.MapPost("/admin/leads/erase", EraseAsync).WithName("EraseLead")
            .WithSummary("GDPR erasure of a lead (by leadId) or of every lead of an address (by email)")
            .Accepts<ErasureRequest>(MediaTypeNames.Application.Json)
            .Produces<ErasureResult>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/admin/audit", ListAuditAsync).WithName("ListAudit")
            .WithSummary("The audit trail, newest first: ?leadId=<id>&limit=50&cursor=<nextCursor>")
            .ProducesValidationProblem();
        LogEnabled(logger, keys.Count);
        return app;
    }

    private static async Task<Results<JsonHttpResult<LeadDetails>, ProblemHttpResult>> GetLeadAsync(
        string leadId, LeadHistory history, CancellationToken cancellationToken)
    {
        var lead = await history.FindAsync(leadId, cancellationToken);
        return lead is null
            ? TypedResults.Problem(title: "Lead not found", detail: $"There is no lead {leadId}.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Json(lead, OperationsJsonContext.Default.LeadDetails);
    }

    private static async Task<Results<JsonHttpResult<OutboxPage>, ValidationProblem>> ListOutboxAsync(
        HttpRequest request, LeadHistory history, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (query, errors) = AdminQueries.ParseOutboxList(request.Query, clock.GetUtcNow());
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var page = await history.ListOutboxAsync(query.Status, query.Cursor, query.Limit, cancellationToken, query.Since, query.Until);
        return TypedResults.Json(page, OperationsJsonContext.Default.OutboxPage);
    }

    private static async Task<Results<JsonHttpResult<LeadPage>, ValidationProblem>> SearchLeadsAsync(
        HttpRequest request, LeadSearch search, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (query, errors) = AdminQueries.ParseLeadSearch(request.Query, clock.GetUtcNow());
        return errors.Count > 0
            ? TypedResults.ValidationProblem(errors)
            : TypedResults.Json(await search.SearchAsync(query, cancellationToken), OperationsJsonContext.Default.LeadPage);
    }

    private static async Task<JsonHttpResult<ActivityReport>> GetActivityAsync(DeliveryActivity activity, CancellationToken cancellationToken) =>
        TypedResults.Json(await activity.ReadAsync(cancellationToken), OperationsJsonContext.Default.ActivityReport);

    private static async Task<JsonHttpResult<OutboxStats>> GetStatsAsync(OutboxStatistics statistics, CancellationToken cancellationToken) =>
        TypedResults.Json(await statistics.ReadAsync(cancellationToken), OperationsJsonContext.Default.OutboxStats);

    private static async Task<Results<JsonHttpResult<AuditPage>, ValidationProblem>> ListAuditAsync(
        HttpRequest request, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (query, errors) = AdminQueries.ParseAuditList(request.Query);
        return errors.Count > 0
            ? TypedResults.ValidationProblem(errors)
            : TypedResults.Json(await audit.ListAsync(query.Cursor, query.Limit, query.LeadId, cancellationToken), OperationsJsonContext.Default.AuditPage);
    }

    private static async Task<IResult> ReplayAsync(HttpRequest request, OutboxReplay replay, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadBodyAsync(request, OperationsJsonContext.Default.ReplayRequest, cancellationToken);
        if (body is null)
        {
            return problem!;
        }

        body = body with { LeadIds = body.LeadIds ?? [], Status = body.Status ?? OutboxStatusNames.Failed };
        var errors = body.Validate();
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Json(await replay.ReplayAsync(body, cancellationToken, AdminKeyFilter.ActorOf(request.HttpContext)), OperationsJsonContext.Default.ReplayResult);
    }

    private static async Task<IResult> EraseAsync(HttpRequest request, LeadErasure erasure, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadBodyAsync(request, OperationsJsonContext.Default.ErasureRequest, cancellationToken);
        if (body is null)
        {
            return problem!;
        }

        if (body.Validate().Count > 0)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["email"] = ["Give exactly one of email or leadId."], ["leadId"] = ["Give exactly one of email or leadId."] });
        }

        var result = await erasure.EraseAsync(body, cancellationToken, AdminKeyFilter.ActorOf(request.HttpContext));
        return result.Found
            ? TypedResults.Json(result, OperationsJsonContext.Default.ErasureResult)
            : TypedResults.Problem(
                title: "Lead not found",
                detail: body.Email is not null ? "No lead has this email address. Nothing was erased." : $"There is no lead {body.LeadId}. Nothing was erased.",
                statusCode: StatusCodes.Status404NotFound);
    }

    /// <summary>Reads a JSON body with the operations' own contract, answering 415 or 400 problem details when it is not one.</summary>
    private static async Task<(T? Body, IResult? Problem)> ReadBodyAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, TypedResults.Problem(
                title: "Unsupported media type", detail: $"Send a JSON body with Content-Type: {MediaTypeNames.Application.Json}.",
                statusCode: StatusCodes.Status415UnsupportedMediaType));
        }

        try
        {
            var body = await request.ReadFromJsonAsync(type, cancellationToken);
            return body is null
                ? (null, TypedResults.Problem(title: "Bad request", detail: "The body must be a JSON object.", statusCode: StatusCodes.Status400BadRequest))
                : (body, null);
        }
        catch (JsonException e)
        {
            return (null, TypedResults.Problem(title: "Bad request", detail: $"The body is not valid JSON for this request: {e.Message}", statusCode: StatusCodes.Status400BadRequest));
        }
    }

    [LoggerMessage(EventId = 5103, Level = LogLevel.Information, Message = "Admin API is on with {KeyCount} key(s)")]
    private static partial void LogEnabled(ILogger logger, int keyCount);
}
