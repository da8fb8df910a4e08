using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.N8n;

/// <summary>One request the stand-in got, as it arrived.</summary>
public sealed record BrevoRequest(string Method, string Path, string? ApiKey, string Body, int Status, string Query = "")
{
    public JsonObject? Json => string.IsNullOrEmpty(Body) ? null : JsonNode.Parse(Body) as JsonObject;

    public string? Email => Method switch
    {
        "POST" => Json?["email"]?.GetValue<string>(),
        "GET" => Uri.UnescapeDataString(Path["/v3/contacts/".Length..]),
        _ => null,
    };

    /// <summary>The contact id a DELETE named.</summary>
    public string? ContactId => Method == "DELETE" ? Uri.UnescapeDataString(Path["/v3/contacts/".Length..]) : null;
}

/// <summary>A contact as the stand-in keeps it.</summary>
public sealed record BrevoContact(long Id, string Email, JsonObject Attributes, IReadOnlyList<long> ListIds);

/// <summary>
/// Brevo's v3 contacts API as documented (developers.brevo.com, "Create a contact", "Get a contact's details"), on
/// loopback: <c>POST /v3/contacts</c> answers 201 <c>{"id": N}</c> for a new address, 204 without a body for a known
/// one when <c>updateEnabled</c> is true (the attributes and lists are updated), 400 otherwise;
/// <c>GET /v3/contacts/{email}</c> answers 200 with the contact or 404;
/// <c>DELETE /v3/contacts/{id}?identifierType=contact_id</c> ("Delete a contact") answers 204 and forgets the contact, or
/// 404 <c>document_not_found</c> when no contact has that id (any more), 400 without the identifier type. A wrong or missing <c>api-key</c> header
/// answers 401. Switches make the next answers fail with a status, arrive late, or never arrive.
/// Addresses are compared case-insensitively, as Brevo does.
/// </summary>
public sealed class BrevoStandIn : IAsyncDisposable
{
    private readonly ConcurrentQueue<BrevoRequest> _requests = new();
    private readonly ConcurrentDictionary<string, BrevoContact> _contacts = new(StringComparer.OrdinalIgnoreCase);
    private readonly WebApplication _app;
    private long _nextId = 1000;
    private int _failuresLeft;

    private BrevoStandIn(WebApplication app, Uri address, string apiKey)
    {
        _app = app;
        Address = address;
        ApiKey = apiKey;
    }

    /// <summary>The base address, to give n8n as BREVO_API_URL.</summary>
    public Uri Address { get; }

    /// <summary>The key the stand-in accepts; change it to make n8n's credential wrong.</summary>
    public string ApiKey { get; set; }

    /// <summary>The status the next <see cref="FailNext"/> answers get.</summary>
    public int FailureStatus { get; private set; } = 503;

    /// <summary>How long every answer waits before it is given (a slow Brevo).</summary>
    public TimeSpan CreateDelay { get; set; }

    /// <summary>How long look-up answers wait.</summary>
    public TimeSpan LookUpDelay { get; set; }

    /// <summary>Create requests are held until the caller gives up.</summary>
    public bool HangCreates { get; set; }

    /// <summary>Look-up requests are held until the caller gives up.</summary>
    public bool HangLookUps { get; set; }

    public IReadOnlyList<BrevoRequest> Requests => [.. _requests];

    public static async Task<BrevoStandIn> StartAsync(string apiKey)
    {
        BrevoStandIn? standIn = null;
        var (app, address) = await LoopbackServer.StartAsync(app =>
        {
            app.MapPost("/v3/contacts", (HttpContext context) => standIn!.CreateAsync(context));
            app.MapGet("/v3/contacts/{identifier}", (HttpContext context, string identifier) => standIn!.LookUpAsync(context, identifier));
            app.MapDelete("/v3/contacts/{identifier}", (HttpContext context, string identifier) => standIn!.DeleteAsync(context, identifier));
        });
        standIn = new BrevoStandIn(app, new Uri(address.ToString().TrimEnd('/')), apiKey);
        return standIn;
    }

    /// <summary>The next <paramref name="count"/> requests (of either kind) answer <paramref name="status"/>.</summary>
    public void FailNext(int count, int status = 503)
    {
        FailureStatus = status;
        Volatile.Write(ref _failuresLeft, count);
    }

    /// <summary>Back to a healthy, prompt Brevo (contacts and the request log are kept).</summary>
    public void Heal()
    {
        Volatile.Write(ref _failuresLeft, 0);
        CreateDelay = LookUpDelay = TimeSpan.Zero;
        HangCreates = HangLookUps = false;
    }

    /// <summary>The DELETE requests the stand-in got for contact <paramref name="contactId"/>, in order.</summary>
    public List<BrevoRequest> DeletesOf(string contactId) =>
        [.. _requests.Where(r => r.Method == "DELETE" && r.ContactId == contactId)];

    /// <summary>Deletes a contact behind the workflow's back (someone removed it in Brevo's own interface).</summary>
    public bool Forget(string email) => _contacts.TryRemove(email, out _);

    public BrevoContact? Contact(string email) => _contacts.TryGetValue(email, out var contact) ? contact : null;

    /// <summary>What the stand-in got for <paramref name="email"/>, in order.</summary>
    public List<BrevoRequest> RequestsFor(string email) =>
        [.. _requests.Where(r => string.Equals(r.Email, email, StringComparison.OrdinalIgnoreCase))];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task CreateAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        if (HangCreates)
        {
            await HangAsync(context, "POST", body);
            return;
        }

        var (status, answer) = await AnswerCreateAsync(context, body);
        _requests.Enqueue(new BrevoRequest("POST", context.Request.Path, ApiKeyOf(context), body, status));
        await WriteAsync(context, status, answer);
    }

    private async Task<(int Status, object? Body)> AnswerCreateAsync(HttpContext context, string body)
    {
        await Task.Delay(CreateDelay, CancellationToken.None);
        if (Rejected(context) is { } refusal)
        {
            return refusal;
        }

        JsonObject? json;
        try
        {
            json = JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            json = null;
        }

        if (json?["email"] is not JsonValue emailValue || !emailValue.TryGetValue<string>(out var email) || !email.Contains('@', StringComparison.Ordinal))
        {
            return (400, Error("invalid_parameter", "Invalid email address"));
        }

        var attributes = json["attributes"] as JsonObject ?? [];
        var lists = (json["listIds"] as JsonArray)?.Select(static n => n!.GetValue<long>()).ToList() ?? [];
        var updateEnabled = json["updateEnabled"] is JsonValue update && update.TryGetValue<bool>(out var enabled) && enabled;
        if (_contacts.TryGetValue(email, out var known))
        {
            if (!updateEnabled)
            {
                return (400, Error("duplicate_parameter", "Unable to create contact, email is already associated with another Contact"));
            }

            var merged = (JsonObject)known.Attributes.DeepClone();
            foreach (var (key, value) in attributes)
            {
                merged[key] = value?.DeepClone();
            }

            _contacts[email] = known with { Attributes = merged, ListIds = [.. known.ListIds.Union(lists)] };
            return (204, null);
        }

        var id = Interlocked.Increment(ref _nextId);
        _contacts[email] = new BrevoContact(id, email, (JsonObject)attributes.DeepClone(), lists);
        return (201, new { id });
    }

    private async Task LookUpAsync(HttpContext context, string identifier)
    {
        if (HangLookUps)
        {
            await HangAsync(context, "GET", "");
            return;
        }

        var (status, answer) = await AnswerLookUpAsync(context, identifier);
        _requests.Enqueue(new BrevoRequest("GET", context.Request.Path, ApiKeyOf(context), "", status));
        await WriteAsync(context, status, answer);
    }

    private async Task<(int Status, object? Body)> AnswerLookUpAsync(HttpContext context, string identifier)
    {
        await Task.Delay(LookUpDelay, CancellationToken.None);
        if (Rejected(context) is { } refusal)
        {
            return refusal;
        }

        if (!_contacts.TryGetValue(identifier, out var contact))
        {
            return (404, Error("document_not_found", "Contact does not exist"));
        }

        return (200, new
        {
            email = contact.Email,
            id = contact.Id,
            emailBlacklisted = false,
            smsBlacklisted = false,
            attributes = contact.Attributes,
            listIds = contact.ListIds,
            statistics = new { },
        });
    }

    private async Task DeleteAsync(HttpContext context, string identifier)
    {
        var (status, answer) = AnswerDelete(context, identifier);
        _requests.Enqueue(new BrevoRequest("DELETE", context.Request.Path, ApiKeyOf(context), "", status, context.Request.QueryString.Value ?? ""));
        await WriteAsync(context, status, answer);
    }

    private (int Status, object? Body) AnswerDelete(HttpContext context, string identifier)
    {
        if (Rejected(context) is { } refusal)
        {
            return refusal;
        }

        if (context.Request.Query["identifierType"] != "contact_id")
        {
            // Without it Brevo reads the identifier as an email address; the workflow always names the id.
            return (400, Error("invalid_parameter", "identifierType contact_id expected by the stand-in"));
        }

        var known = _contacts.FirstOrDefault(c => c.Value.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) == identifier);
        if (known.Value is null || !_contacts.TryRemove(known.Key, out _))
        {
            return (404, Error("document_not_found", "Contact does not exist"));
        }

        return (204, null);
    }

    /// <summary>401 for a wrong key, or the switched-on failure; null when the request goes through.</summary>
    private (int Status, object? Body)? Rejected(HttpContext context)
    {
        if (!string.Equals(ApiKeyOf(context), ApiKey, StringComparison.Ordinal))
        {
            return (401, Error("unauthorized", "Key not found"));
        }

        if (Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            return (FailureStatus, Error("internal_error", "Brevo stand-in: failure switched on"));
        }

        Interlocked.Exchange(ref _failuresLeft, 0);
        return null;
    }

    private static string? ApiKeyOf(HttpContext context) =>
        context.Request.Headers.TryGetValue("api-key", out var key) ? key.ToString() : null;

    private static object Error(string code, string message) => new { code, message };

    // A hung request is recorded as it arrives: the caller's own timeout is when a test looks, and the abort that ends
    // the hang reaches this server a moment later (a loaded machine's CI saw n8n's 502 before the record).
    private async Task HangAsync(HttpContext context, string method, string body)
    {
        _requests.Enqueue(new BrevoRequest(method, context.Request.Path, ApiKeyOf(context), body, 499));
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // The caller gave up: that is what a hanging Brevo is for.
        }
    }

    private static async Task WriteAsync(HttpContext context, int status, object? body)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        context.Response.StatusCode = status;
        if (body is not null)
        {
            await context.Response.WriteAsJsonAsync(body, body.GetType(), CancellationToken.None);
        }
    }
}
