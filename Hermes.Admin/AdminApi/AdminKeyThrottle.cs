using System.Globalization;
using System.Threading.RateLimiting;
using Hermes.ServiceDefaults.Http;
using Microsoft.Extensions.Options;

namespace Hermes.Admin.AdminApi;

/// <summary>
/// The one rule against admin key guessing, shared by the console's sign-in and the admin API: wrong keys are counted
/// per client address (IPv6 per /64, as the intake's rate limit does) in fixed windows, in one count for both, so a
/// client cannot try the console's allowance and then the API's. Once a client has used up
/// <see cref="AdminKeyThrottleOptions.KeyFailureLimit"/>, every request with a key from it is refused (429), right key or
/// not, until its window ends. Right keys are not counted.
/// </summary>
public sealed class AdminKeyThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures;

    public AdminKeyThrottle(IOptions<AdminKeyThrottleOptions> options)
    {
        var settings = options.Value;
        Window = settings.KeyFailureWindow;
        _failures = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = settings.KeyFailureLimit,
            Window = settings.KeyFailureWindow,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>How long a blocked client waits at most: the whole window (the limiter does not say how much of it is left).</summary>
    public TimeSpan Window { get; }

    /// <summary>The <c>Retry-After</c> value of a refusal, in whole seconds.</summary>
    public string RetryAfterSeconds => Math.Max(1, (int)Math.Ceiling(Window.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

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

/// <summary>Section <c>Admin</c>: how many wrong admin keys a client address may send, console and admin API together.</summary>
public sealed class AdminKeyThrottleOptions
{
    public const string Section = "Admin";

    /// <summary><c>Admin:KeyFailureLimit</c>: wrong keys per client address within <see cref="KeyFailureWindow"/>; then 429 until the window ends.</summary>
    public int KeyFailureLimit { get; set; } = 5;

    /// <summary><c>Admin:KeyFailureWindow</c>.</summary>
    public TimeSpan KeyFailureWindow { get; set; } = TimeSpan.FromMinutes(15);
}

internal sealed class AdminKeyThrottleOptionsValidator(IConfiguration configuration) : IValidateOptions<AdminKeyThrottleOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminKeyThrottleOptions options)
    {
        var errors = new List<string>();
        if (options.KeyFailureLimit is < 1 or > 1000)
        {
            errors.Add($"{AdminKeyThrottleOptions.Section}:KeyFailureLimit must be from 1 to 1000.");
        }

        if (options.KeyFailureWindow < TimeSpan.FromSeconds(1) || options.KeyFailureWindow > TimeSpan.FromDays(1))
        {
            errors.Add($"{AdminKeyThrottleOptions.Section}:KeyFailureWindow must be from 00:00:01 to 1.00:00:00.");
        }

        // The console's own settings of earlier versions: silently ignoring them would loosen a limit someone tightened.
        foreach (var (old, current) in new[] { ("SignInFailureLimit", "KeyFailureLimit"), ("SignInFailureWindow", "KeyFailureWindow") })
        {
            if (configuration[$"Console:{old}"] is not null)
            {
                errors.Add($"Console:{old} is now {AdminKeyThrottleOptions.Section}:{current} (it counts wrong keys for the console and the admin API together): rename the setting.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
