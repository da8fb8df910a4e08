#:sdk Microsoft.NET.Sdk.Web
#:property PublishAot=false
#:property InvariantGlobalization=true
// The stand-in for n8n's webhook in the compose test (compose.receiver.yml): it answers every delivery the way the
// Hermes workflow does when Brevo accepted the contact (200, {"brevoContactId": ...}), and appends one JSON line per
// request to $RECEIVED_FILE: the webhook-id, whether the Standard Webhooks signature verifies with
// HERMES_WEBHOOK_SECRET, whether the static auth header matches, and the body. The test reads that file. While a file
// delay-ms beside it holds a number, every answer waits that many milliseconds (a slow n8n, so that a worker holds its
// claims long enough to be killed holding them).
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

var file = Environment.GetEnvironmentVariable("RECEIVED_FILE") ?? "/data/received.jsonl";
var secrets = (Environment.GetEnvironmentVariable("HERMES_WEBHOOK_SECRET") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)
    .Select(static s => Convert.FromBase64String(s.StartsWith("whsec_", StringComparison.Ordinal) ? s[6..] : s)).ToList();
var authName = Environment.GetEnvironmentVariable("HERMES_N8N_AUTH_HEADER_NAME") ?? "X-Hermes-Auth";
var authValue = Environment.GetEnvironmentVariable("HERMES_N8N_AUTH_HEADER_VALUE") ?? "";
var delayFile = Path.Combine(Path.GetDirectoryName(file)!, "delay-ms");
var gate = new object();
var count = 0;

var app = WebApplication.CreateSlimBuilder(args).Build();
app.MapGet("/healthz", () => "ok");
app.MapPost("/webhook/hermes-lead", async (HttpRequest request) =>
{
    if (File.Exists(delayFile) && int.TryParse(File.ReadAllText(delayFile).Trim(), out var delay))
    {
        await Task.Delay(delay);
    }

    using var reader = new StreamReader(request.Body, Encoding.UTF8);
    var body = await reader.ReadToEndAsync();
    var id = request.Headers["webhook-id"].ToString();
    var timestamp = request.Headers["webhook-timestamp"].ToString();
    var signed = Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}");
    var offered = request.Headers["webhook-signature"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
    var verified = secrets.Count > 0 && secrets.Any(secret =>
        offered.Contains("v1," + Convert.ToBase64String(HMACSHA256.HashData(secret, signed)), StringComparer.Ordinal));
    var line = new JsonObject
    {
        ["webhookId"] = id,
        ["verified"] = verified,
        ["auth"] = request.Headers[authName].ToString() == authValue && authValue.Length > 0,
        ["body"] = body,
    }.ToJsonString();
    int n;
    lock (gate)
    {
        File.AppendAllText(file, line + "\n");
        n = ++count;
    }

    return Results.Json(new JsonObject { ["brevoContactId"] = 4711 + n }, statusCode: 200);
});
app.Run("http://0.0.0.0:5678");
