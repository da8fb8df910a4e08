using System.Collections.Concurrent;

namespace Hermes.Tests.Api;

/// <summary>
/// An intake host with the captcha switched on against a <see cref="FakeCaptchaVerifier"/> on loopback: one verifier
/// per class, started before the host, forgotten between tests, stopped after the class.
/// </summary>
public abstract class CaptchaApiTest : ApiTest
{
    private FakeCaptchaVerifier? _verifier;

    /// <summary>The secret the host sends to the verifier.</summary>
    protected virtual string CaptchaSecret => "test-captcha-secret";

    /// <summary>What the verifier was asked, oldest first (form fields: <c>secret</c>, <c>response</c>, <c>remoteip</c>).</summary>
    protected ConcurrentQueue<IReadOnlyDictionary<string, string>> Verifications => _verifier!.Verifications;

    /// <summary>The captcha settings, for a class's <see cref="ApiTest.Settings"/>.</summary>
    protected IEnumerable<KeyValuePair<string, string?>> CaptchaSettings =>
    [
        new("Intake:Captcha:Enabled", "true"),
        new("Intake:Captcha:VerifyUrl", _verifier!.VerifyUrl),
        new("Intake:Captcha:Secret", CaptchaSecret),
        new("Intake:Captcha:Timeout", "00:00:02"),
    ];

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(CaptchaSettings);

    protected override async Task BeforeApiStartsAsync() => _verifier = await FakeCaptchaVerifier.StartAsync();

    [OneTimeTearDown]
    public async Task StopVerifierAsync()
    {
        if (_verifier is not null)
        {
            await _verifier.DisposeAsync();
        }
    }

    [SetUp]
    public void ForgetVerifications() => Verifications.Clear();
}
