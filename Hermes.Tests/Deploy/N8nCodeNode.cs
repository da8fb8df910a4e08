using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Deploy;

/// <summary>
/// Runs one of deploy/n8n's Code node scripts under Node the way n8n's Code node does (n8n-code-node.js),
/// and builds the items a Webhook node with "Raw Body" on hands it.
/// </summary>
public static class N8nCodeNode
{
    public const string VerifySignature = "verify-signature.js";
    public const string PrepareContact = "prepare-contact.js";
    public const string RememberDelivery = "remember-delivery.js";
    public const string PrepareErasure = "prepare-erasure.js";
    public const string CheckErasure = "check-erasure.js";

    /// <summary>The result: <c>{ ok, items | error, staticData }</c>.</summary>
    public static async Task<JsonObject> RunAsync(string codeFile, JsonObject scenario)
    {
        var node = ExternalTool.Require("node", "Node.js 20 or later runs the n8n Code node tests (Debian: apt-get install -y nodejs).");
        var result = await ExternalTool.RunAsync(
            node,
            [RepositoryFiles.PathOf("Hermes.Tests", "Deploy", "n8n-code-node.js"), RepositoryFiles.PathOf("deploy", "n8n", codeFile)],
            scenario.ToJsonString());
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        return JsonNode.Parse(result.StandardOutput)?.AsObject() ?? throw new AssertionException("No result from the harness. " + result.Describe());
    }

    /// <summary>The single item a successful run returned (detached, so it can go into another scenario).</summary>
    public static JsonObject SingleItem(JsonObject result)
    {
        Assert.That(result["ok"]?.GetValue<bool>(), Is.True, () => "The Code node failed: " + result["error"]);
        var items = result["items"]!.AsArray();
        Assert.That(items, Has.Count.EqualTo(1));
        return Clone(items[0]!["json"])!.AsObject();
    }

    /// <summary>A Standard Webhooks signature header value, computed here independently of the script.</summary>
    public static string Sign(string secret, string id, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        return "v1," + Convert.ToBase64String(mac);
    }

    /// <summary>What the Webhook node passes on: headers (lower-case, as Node receives them) and the raw body.</summary>
    public static JsonObject WebhookItem(string rawBody, IReadOnlyDictionary<string, string> headers)
    {
        var headerObject = new JsonObject { ["content-type"] = "application/json", ["x-hermes-auth"] = "header-auth-value" };
        foreach (var (name, value) in headers)
        {
            headerObject[name.ToLowerInvariant()] = value;
        }

        return new JsonObject
        {
            ["json"] = new JsonObject
            {
                ["headers"] = headerObject,
                ["params"] = new JsonObject(),
                ["query"] = new JsonObject(),
                ["body"] = JsonNode.Parse(rawBody),
            },
            ["rawBody"] = rawBody,
        };
    }

    /// <summary>The body Hermes sends for a stored lead, from the domain's own payload contract.</summary>
    public static string HermesPayload(string leadId = "lead_0001", string email = "ada@example.com", bool marketingConsent = false)
    {
        var lead = TestData.ValidLead(leadId, email);
        lead.BackupId = 42;
        lead.MarketingConsent = marketingConsent;
        lead.CreatedAt = new DateTimeOffset(2026, 11, 22, 9, 30, 0, TimeSpan.Zero);
        return WebhookPayload.For(lead).ToJson();
    }

    public static JsonObject Scenario(long nowSeconds, JsonObject env, params JsonObject[] items) => new()
    {
        ["nowMs"] = nowSeconds * 1000,
        ["env"] = env,
        ["items"] = new JsonArray([.. items]),
    };

    public static JsonNode? Clone(JsonNode? node) => node is null ? null : JsonNode.Parse(node.ToJsonString(JsonSerializerOptions.Default));
}
