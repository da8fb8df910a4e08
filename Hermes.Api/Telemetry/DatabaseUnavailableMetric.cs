using Hermes.ServiceDefaults.Http;

namespace Hermes.Api.Telemetry;

/// <summary>
/// Counts a submission lost to an unreachable database (<c>reason=database_unavailable</c>); the exception goes on
/// to <see cref="DatabaseUnavailableHandler"/>, which answers 503.
/// </summary>
internal sealed class DatabaseUnavailableMetric(ApiTelemetry telemetry) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (DatabaseUnavailableHandler.IsUnavailable(e))
        {
            telemetry.Reject(RejectionReasons.DatabaseUnavailable);
            throw;
        }
    }
}
