using Microsoft.AspNetCore.Diagnostics;

namespace Hermes.ServiceDefaults.Http;

/// <summary>A request the server itself refused while reading it (Kestrel limits, a broken upload) keeps its 4xx status.</summary>
internal sealed class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }

        httpContext.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = { Status = bad.StatusCode, Detail = "The request could not be read." },
        });
    }
}
