using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Api;

/// <summary>
/// A captcha verify endpoint (Turnstile / hCaptcha / reCAPTCHA style) on 127.0.0.1 that answers by token and keeps
/// the form fields of every verification it was asked for:
/// <c>good-token</c> passes; <c>broken-verifier</c> answers 500; <c>slow-verifier</c> answers only after the
/// caller hung up (or 30 s); <c>garbage-answer</c> answers HTML; any other token fails.
/// </summary>
public sealed class FakeCaptchaVerifier : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeCaptchaVerifier(WebApplication app, ConcurrentQueue<IReadOnlyDictionary<string, string>> verifications, string verifyUrl)
    {
        _app = app;
        Verifications = verifications;
        VerifyUrl = verifyUrl;
    }

    /// <summary>The verify URL, for <c>Intake:Captcha:VerifyUrl</c>.</summary>
    public string VerifyUrl { get; }

    /// <summary>The form fields (secret, response, remoteip) of each verification, in order.</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> Verifications { get; }

    public static async Task<FakeCaptchaVerifier> StartAsync()
    {
        var verifications = new ConcurrentQueue<IReadOnlyDictionary<string, string>>();
        var (app, address) = await LoopbackServer.StartAsync(app => app.MapPost("/siteverify", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            var fields = form.ToDictionary(static f => f.Key, static f => f.Value.ToString());
            verifications.Enqueue(fields);
            return fields.GetValueOrDefault("response") switch
            {
                "good-token" => Results.Json(new JsonObject { ["success"] = true, ["hostname"] = "www.hermessecurity.io" }),
                "broken-verifier" => Results.StatusCode(StatusCodes.Status500InternalServerError),
                "slow-verifier" => await SlowAsync(request.HttpContext.RequestAborted),
                "garbage-answer" => Results.Text("<html>oops</html>", "text/html"),
                _ => Results.Json(new JsonObject { ["success"] = false, ["error-codes"] = new JsonArray("invalid-input-response") }),
            };
        }));
        return new FakeCaptchaVerifier(app, verifications, new Uri(address, "/siteverify").ToString());
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    // Answers only after the caller gave up waiting (and closed the connection), or after 30 s.
    private static async Task<IResult> SlowAsync(CancellationToken aborted)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(30), aborted);
        }
        catch (OperationCanceledException)
        {
            // The API hung up, as it should.
        }

        return Results.Json(new JsonObject { ["success"] = true });
    }
}
