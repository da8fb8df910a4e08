using System.Collections.Concurrent;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Worker;
using Microsoft.Playwright;

namespace Hermes.Tests.OperatorConsole;

/// <summary>
/// A test class with its own database and an API host with the console on (Development, so the cookies are not
/// Secure over the loopback's plain HTTP), and a fresh browser context per test. Every test fails when a page it
/// visited logged a console error, threw, or violated its Content-Security-Policy.
/// </summary>
public abstract class ConsoleTest : DatabaseTest, IAsyncDisposable
{
    public const string Key = "console-test-key-0123456789abcdef";

    private readonly ConcurrentQueue<string> _problems = new();
    private HermesAdminFactory? _admin;
    private HermesApiFactory? _api;
    private IBrowserContext? _context;

    /// <summary>The admin host, which serves the console.</summary>
    protected HermesAdminFactory Admin => _admin ?? throw new InvalidOperationException("No admin host yet.");

    /// <summary>The public API, for submitting leads as the website does.</summary>
    protected HermesApiFactory Api => _api ?? throw new InvalidOperationException("No API yet.");

    protected IPage Page { get; private set; } = null!;

    protected Uri BaseAddress { get; private set; } = null!;

    /// <summary>The hosts' environment (Development unless a test class says otherwise).</summary>
    protected virtual string HostEnvironment => "Development";

    /// <summary>Settings of this class's hosts (admin and public API) on top of the console's.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    /// <summary>Takes (and forgets) what the browser reported so far: console errors, uncaught exceptions, CSP violations.</summary>
    protected IReadOnlyList<string> TakeBrowserProblems()
    {
        var taken = new List<string>();
        while (_problems.TryDequeue(out var problem))
        {
            taken.Add(problem);
        }

        return taken;
    }

    [OneTimeSetUp]
    public async Task StartApiAsync()
    {
        await BeforeApiStartsAsync();
        var settings = Settings;
        _admin = new HermesAdminFactory(ConnectionString, Key, settings, environment: HostEnvironment);
        _api = new HermesApiFactory(ConnectionString, settings, environment: HostEnvironment);
        BaseAddress = _admin.ServerAddress;
    }

    /// <summary>Runs before the hosts start, e.g. to start a server their settings name.</summary>
    protected virtual Task BeforeApiStartsAsync() => Task.CompletedTask;

    [OneTimeTearDown]
    public async Task StopApiAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
            _admin = null;
        }

        if (_api is not null)
        {
            await _api.DisposeAsync();
            _api = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopApiAsync();
        GC.SuppressFinalize(this);
    }

    [SetUp]
    public async Task OpenBrowserAsync()
    {
        await EmptyLeadTablesAsync();
        var browser = await Browser.GetAsync();
        _problems.Clear();
        _context = await browser.NewContextAsync(new() { BaseURL = BaseAddress.ToString(), ViewportSize = new() { Width = 1100, Height = 900 } });
        await _context.AddInitScriptAsync("""
            document.addEventListener('securitypolicyviolation', e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
            """);
        Page = await _context.NewPageAsync();
        // Chromium logs every non-2xx answer as "Failed to load resource"; pages answer 404 or 429 on purpose, so
        // answers are judged by the Response handler below and those lines skipped here.
        Page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                _problems.Enqueue($"{message.Type} on {Page.Url}: {message.Text}");
            }
        };
        Page.Response += (_, response) =>
        {
            // Documents and fetches answer errors on purpose (a 404 page, a 400 problem); what a page loads must not.
            if (response.Request.ResourceType is not ("document" or "fetch" or "xhr") && response.Status >= 400)
            {
                _problems.Enqueue($"{response.Request.ResourceType} {response.Url} answered {response.Status}");
            }
        };
        Page.PageError += (_, error) => _problems.Enqueue($"uncaught on {Page.Url}: {error}");
    }

    [TearDown]
    public async Task CloseBrowserAsync()
    {
        if (_context is not null)
        {
            await _context.CloseAsync();
            _context = null;
        }

        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
        {
            Assert.That(_problems, Is.Empty, "console errors, uncaught exceptions or CSP violations in the browser");
        }
    }

    /// <summary>Signs in through the sign-in page and lands on the overview.</summary>
    protected async Task SignInAsync(string key = Key)
    {
        await Page.GotoAsync("/console/sign-in");
        await Page.GetByLabel("Admin key").FillAsync(key);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    /// <summary>Starts a loopback receiver standing in for n8n and a real worker delivering to it; dispose both.</summary>
    protected async Task<(WebhookReceiver Receiver, WorkerUnderTest Worker)> StartDeliveryAsync(IDictionary<string, string?>? settings = null)
    {
        var receiver = await WebhookReceiver.StartAsync();
        var worker = await WorkerUnderTest.StartAsync(ConnectionString, receiver.Url, settings);
        return (receiver, worker);
    }

    protected Task<string?> OutboxStatusOfAsync(string leadId) =>
        ScalarAsync<string?>("SELECT o.status FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", leadId);

    /// <summary>Stores a lead the way the API does (through its intake), returning its public id.</summary>
    protected async Task<string> SubmitLeadAsync(string email = "ada@example.com", string firstName = "Ada")
    {
        using var client = Api.CreateApiClient();
        var form = TestData.ValidForm(email) with { FirstName = firstName };
        using var response = await client.PostAsync("/api/leads", System.Net.Http.Json.JsonContent.Create(form));
        Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
        var body = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<System.Text.Json.JsonElement>(response.Content);
        return body.GetProperty("leadId").GetString()!;
    }
}
