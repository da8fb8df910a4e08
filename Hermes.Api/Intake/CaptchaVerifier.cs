using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Hermes.Api.Intake;

internal enum CaptchaVerdict
{
    Passed,
    Failed,
    Unavailable,
}

/// <summary>
/// Asks the captcha provider whether a token is good: a form POST of <c>secret</c>, <c>response</c> and
/// <c>remoteip</c> to the configured verify URL, answered with JSON whose <c>success</c> says yes or no. This is
/// the protocol Cloudflare Turnstile, hCaptcha and Google reCAPTCHA share.
/// </summary>
internal sealed class CaptchaVerifier(HttpClient http, IOptions<IntakeOptions> options, ILogger<CaptchaVerifier> logger)
{
    public async Task<CaptchaVerdict> VerifyAsync(string token, IPAddress? remoteIp, CancellationToken cancellationToken)
    {
        var settings = options.Value.Captcha;
        List<KeyValuePair<string, string>> fields = [new("secret", settings.Secret ?? ""), new("response", token)];
        if (remoteIp is not null)
        {
            fields.Add(new("remoteip", remoteIp.ToString()));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.Timeout);
        try
        {
            using var content = new FormUrlEncodedContent(fields);
            using var response = await http.PostAsync(settings.VerifyUrl, content, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                IntakeLog.CaptchaUnavailable(logger, $"the verify endpoint answered {(int)response.StatusCode}");
                return CaptchaVerdict.Unavailable;
            }

            var answer = await response.Content.ReadFromJsonAsync(IntakeJsonContext.Default.CaptchaAnswer, timeout.Token);
            if (answer is { Success: true })
            {
                return CaptchaVerdict.Passed;
            }

            IntakeLog.CaptchaRejected(logger, string.Join(",", answer?.ErrorCodes ?? []));
            return CaptchaVerdict.Failed;
        }
        catch (HttpRequestException e)
        {
            IntakeLog.CaptchaUnavailable(logger, e.Message);
            return CaptchaVerdict.Unavailable;
        }
        catch (JsonException)
        {
            IntakeLog.CaptchaUnavailable(logger, "the verify endpoint's answer is not the expected JSON");
            return CaptchaVerdict.Unavailable;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            IntakeLog.CaptchaUnavailable(logger, $"no answer within {settings.Timeout}");
            return CaptchaVerdict.Unavailable;
        }
    }
}
