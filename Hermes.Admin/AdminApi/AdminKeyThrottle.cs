using System.Globalization;
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
/// <remarks>
/// A fixed window of its own rather than System.Threading.RateLimiting's: that limiter runs on the system clock (it
/// takes no <see cref="TimeProvider"/>, so a test could only sleep through a window) and does not say how much of a
/// window is left. Here a client's window starts at its first wrong key and lasts
/// <see cref="AdminKeyThrottleOptions.KeyFailureWindow"/> on the host's <see cref="TimeProvider"/>; a refusal's
/// <c>Retry-After</c> is the time left in it, rounded up to whole seconds. Windows that have ended are dropped when the
/// next wrong key is counted, so the table holds only the addresses that sent one within the last window.
/// </remarks>
public sealed class AdminKeyThrottle
{
    private readonly int _limit;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (DateTimeOffset Ends, int Failures)> _windows = new(StringComparer.Ordinal);

    public AdminKeyThrottle(IOptions<AdminKeyThrottleOptions> options, TimeProvider time)
    {
        var settings = options.Value;
        _limit = settings.KeyFailureLimit;
        Window = settings.KeyFailureWindow;
        _time = time;
    }

    /// <summary>How long a window lasts: the longest a blocked client waits.</summary>
    public TimeSpan Window { get; }

    public static string ClientOf(HttpContext context) => ClientAddress.Partition(context.Connection.RemoteIpAddress);

    /// <summary>How long <paramref name="client"/> stays refused; <see langword="null"/> when it is not.</summary>
    public TimeSpan? BlockedFor(string client)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            return _windows.TryGetValue(client, out var window) && window.Ends > now && window.Failures >= _limit ? window.Ends - now : null;
        }
    }

    public bool IsBlocked(string client) => BlockedFor(client) is not null;

    /// <summary>The <c>Retry-After</c> value of a refusal: the time left in the window, in whole seconds (at least 1).</summary>
    public static string RetryAfterSeconds(TimeSpan left) =>
        Math.Max(1, (long)Math.Ceiling(left.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>Counts a wrong key; returns how many more the client may try in this window.</summary>
    public long RecordFailure(string client)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            foreach (var ended in _windows.Where(w => w.Value.Ends <= now).Select(static w => w.Key).ToList())
            {
                _windows.Remove(ended);
            }

            var window = _windows.TryGetValue(client, out var open) ? open : (Ends: now + Window, Failures: 0);
            window.Failures = Math.Min(window.Failures + 1, _limit);
            _windows[client] = window;
            return _limit - window.Failures;
        }
    }
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
