using System.Threading.RateLimiting;
using Hermes.ServiceDefaults.Http;
using Microsoft.Extensions.Options;

namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// Counts wrong keys per client address (IPv6 per /64, as the intake's rate limit does) in fixed windows; once a
/// client has used up <see cref="ConsoleOptions.SignInFailureLimit"/>, every sign-in from it is refused, right key or
/// not, until its window ends. Successful sign-ins are not counted.
/// </summary>
public sealed class SignInThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures;

    public SignInThrottle(IOptions<ConsoleOptions> options)
    {
        var settings = options.Value;
        Window = settings.SignInFailureWindow;
        _failures = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = settings.SignInFailureLimit,
            Window = settings.SignInFailureWindow,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public TimeSpan Window { get; }

    public static string ClientOf(HttpContext context) => ClientAddress.Partition(context.Connection.RemoteIpAddress);

    public bool IsBlocked(string client) => _failures.GetStatistics(client)?.CurrentAvailablePermits == 0;

    /// <summary>Counts a wrong key; returns how many more the client may try in this window.</summary>
    public long RecordFailure(string client)
    {
        using var lease = _failures.AttemptAcquire(client);
        return _failures.GetStatistics(client)?.CurrentAvailablePermits ?? 0;
    }

    public void Dispose() => _failures.Dispose();
}
