using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hermes.Outbox.Worker.Delivery;

namespace Hermes.Tests.Deploy;

/// <summary>deploy/n8n/hermes-workflow.json and the entrypoint that imports it into n8n.</summary>
public sealed partial class N8nWorkflowTests
{
    private static readonly Dictionary<string, string> CodeNodeFiles = new()
    {
        ["Verify signature"] = N8nCodeNode.VerifySignature,
        ["Prepare Brevo contact"] = N8nCodeNode.PrepareContact,
        ["Remember delivery"] = N8nCodeNode.RememberDelivery,
        ["Prepare Brevo erasure"] = N8nCodeNode.PrepareErasure,
        ["Check Brevo erasure"] = N8nCodeNode.CheckErasure,
    };

    private static JsonObject Workflow => JsonNode.Parse(RepositoryFiles.Read("deploy", "n8n", "hermes-workflow.json"))!.AsObject();

    private static IEnumerable<JsonObject> Nodes(JsonObject workflow) => workflow["nodes"]!.AsArray().Select(static n => n!.AsObject());

    private static JsonObject Node(JsonObject workflow, string name) =>
        Nodes(workflow).SingleOrDefault(n => n["name"]!.GetValue<string>() == name) ?? throw new AssertionException($"No node named '{name}'.");

    private static string Type(JsonObject node) => node["type"]!.GetValue<string>();

    /// <summary>The names each output of <paramref name="name"/> leads to (empty outputs included).</summary>
    private static List<List<string>> Outputs(JsonObject workflow, string name) =>
        workflow["connections"]![name]?["main"]?.AsArray()
            .Select(static output => output!.AsArray().Select(static c => c!["node"]!.GetValue<string>()).ToList())
            .ToList() ?? [];

    [Test]
    public async Task The_committed_workflow_is_what_build_workflow_js_makes_from_the_code_files()
    {
        var node = ExternalTool.Require("node", "Node.js 20 or later builds the n8n workflow (Debian: apt-get install -y nodejs).");

        var result = await ExternalTool.RunAsync(node, [RepositoryFiles.PathOf("deploy", "n8n", "build-workflow.js"), "--check"]);

        Assert.That(result.ExitCode, Is.Zero, result.Describe());
    }

    [Test]
    public void The_workflow_is_an_importable_n8n_workflow_with_the_expected_node_types()
    {
        var workflow = Workflow;

        Assert.That(workflow["id"]!.GetValue<string>(), Is.EqualTo("HermesLeadIntake"));
        Assert.That(workflow["connections"], Is.Not.Null);
        Assert.That(Nodes(workflow).Select(Type).Distinct(), Is.SupersetOf(new[]
        {
            "n8n-nodes-base.webhook", "n8n-nodes-base.code", "n8n-nodes-base.httpRequest",
            "n8n-nodes-base.respondToWebhook", "n8n-nodes-base.if",
        }));
        Assert.That(Nodes(workflow).Select(static n => n["name"]!.GetValue<string>()), Is.Unique);
        Assert.That(Nodes(workflow).Select(static n => n["id"]!.GetValue<string>()), Is.Unique);
    }

    [Test]
    public void The_webhook_takes_POST_on_hermes_lead_with_header_auth_raw_body_and_a_respond_node()
    {
        var webhook = Nodes(Workflow).Single(static n => Type(n) == "n8n-nodes-base.webhook");
        var parameters = webhook["parameters"]!;

        Assert.That(parameters["httpMethod"]!.GetValue<string>(), Is.EqualTo("POST"));
        Assert.That(parameters["path"]!.GetValue<string>(), Is.EqualTo("hermes-lead"));
        Assert.That(parameters["authentication"]!.GetValue<string>(), Is.EqualTo("headerAuth"));
        Assert.That(parameters["responseMode"]!.GetValue<string>(), Is.EqualTo("responseNode"));
        Assert.That(parameters["options"]!["rawBody"]!.GetValue<bool>(), Is.True, "the signature covers the raw body");
        Assert.That(webhook["credentials"]!["httpHeaderAuth"]!["id"]!.GetValue<string>(), Is.EqualTo("HermesHeaderAuth"));
        Assert.That(Outputs(Workflow, webhook["name"]!.GetValue<string>()), Is.EqualTo(new[] { new[] { "Verify signature" } }));
    }

    [Test]
    public void Each_code_node_embeds_its_file_verbatim()
    {
        var workflow = Workflow;
        var codeNodes = Nodes(workflow).Where(static n => Type(n) == "n8n-nodes-base.code").ToList();

        Assert.That(codeNodes.Select(static n => n["name"]!.GetValue<string>()), Is.EquivalentTo(CodeNodeFiles.Keys));
        foreach (var (name, file) in CodeNodeFiles)
        {
            Assert.That(Node(workflow, name)["parameters"]!["jsCode"]!.GetValue<string>(), Is.EqualTo(RepositoryFiles.Read("deploy", "n8n", file)), name);
        }
    }

    [Test]
    public void Every_path_through_the_workflow_ends_in_an_answer_to_Hermes()
    {
        var workflow = Workflow;
        var names = Nodes(workflow).Select(static n => n["name"]!.GetValue<string>()).ToHashSet();
        foreach (var (source, _) in workflow["connections"]!.AsObject())
        {
            Assert.That(names, Does.Contain(source), "connection from an unknown node");
            Assert.That(Outputs(workflow, source).SelectMany(static o => o), Is.SubsetOf(names), $"a connection of '{source}' leads nowhere");
        }

        foreach (var node in Nodes(workflow).Where(static n => Type(n) is not "n8n-nodes-base.stickyNote" and not "n8n-nodes-base.respondToWebhook"))
        {
            var name = node["name"]!.GetValue<string>();
            var outputs = Outputs(workflow, name);
            var expected = Type(node) == "n8n-nodes-base.if" || node["onError"]?.GetValue<string>() == "continueErrorOutput" ? 2 : 1;
            Assert.That(outputs, Has.Count.EqualTo(expected), $"'{name}' must have {expected} connected output(s)");
            Assert.That(outputs, Has.All.Not.Empty, $"every output of '{name}' must lead somewhere");
        }

        foreach (var respond in Nodes(workflow).Where(static n => Type(n) == "n8n-nodes-base.respondToWebhook"))
        {
            Assert.That(Outputs(workflow, respond["name"]!.GetValue<string>()).SelectMany(static o => o), Is.Empty, "an answer ends the path");
        }
    }

    [Test]
    public void Every_node_that_calls_Brevo_or_runs_code_sends_its_failures_to_a_non_2xx_answer()
    {
        var workflow = Workflow;
        foreach (var node in Nodes(workflow).Where(static n => Type(n) is "n8n-nodes-base.httpRequest" or "n8n-nodes-base.code"))
        {
            var name = node["name"]!.GetValue<string>();
            Assert.That(node["onError"]?.GetValue<string>(), Is.EqualTo("continueErrorOutput"), name);
            var errorTarget = Node(workflow, Outputs(workflow, name)[1].Single());
            Assert.That(Type(errorTarget), Is.EqualTo("n8n-nodes-base.respondToWebhook"), name);
            var code = errorTarget["parameters"]!["options"]!["responseCode"]!.GetValue<int>();
            Assert.That(code, Is.GreaterThanOrEqualTo(500), $"a failure in '{name}' must make Hermes retry");
        }

        var reject = Node(workflow, Outputs(workflow, "Signature valid?")[1].Single());
        Assert.That(reject["parameters"]!["options"]!["responseCode"]!.GetValue<string>(), Is.EqualTo("={{ $json.status }}"));
    }

    [Test]
    public void Successful_answers_carry_the_brevo_contact_id_with_status_200()
    {
        var workflow = Workflow;
        var successes = new[] { Node(workflow, "Answer contact id"), Node(workflow, "Answer earlier contact id") };

        foreach (var node in successes)
        {
            Assert.That(node["parameters"]!["respondWith"]!.GetValue<string>(), Is.EqualTo("json"));
            Assert.That(node["parameters"]!["options"]!["responseCode"]!.GetValue<int>(), Is.EqualTo(200));
            Assert.That(node["parameters"]!["responseBody"]!.GetValue<string>(), Does.Contain("brevoContactId: $json.brevoContactId"));
        }

        Assert.That(Outputs(workflow, "Remember delivery")[0], Is.EqualTo(new[] { "Answer contact id" }));
        Assert.That(Outputs(workflow, "Already delivered?")[0], Is.EqualTo(new[] { "Answer earlier contact id" }));
    }

    [Test]
    public void Brevo_is_asked_to_create_or_update_and_looked_up_when_it_answers_204()
    {
        var workflow = Workflow;
        var create = Node(workflow, "Brevo: create or update contact")["parameters"]!;
        var lookUp = Node(workflow, "Brevo: look up contact id")["parameters"]!;

        Assert.That(create["method"]!.GetValue<string>(), Is.EqualTo("POST"));
        // The base address is the BREVO_API_URL setting, read (and checked) by "Prepare Brevo contact".
        Assert.That(create["url"]!.GetValue<string>(), Is.EqualTo("={{ $json.brevoApiUrl }}/v3/contacts"));
        Assert.That(create["jsonBody"]!.GetValue<string>(), Does.Contain("$json.contact"));
        Assert.That(lookUp["method"]!.GetValue<string>(), Is.EqualTo("GET"));
        Assert.That(lookUp["url"]!.GetValue<string>(), Does.StartWith("={{ $('Prepare Brevo contact').first().json.brevoApiUrl }}/v3/contacts/{{ encodeURIComponent("));
        Assert.That(RepositoryFiles.Read("deploy", "n8n", "hermes-workflow.json"), Does.Not.Contain("https://api.brevo.com/v3"), "no Brevo address is written into a node");
        foreach (var call in new[] { create, lookUp })
        {
            // n8n's Brevo credential type keeps the old Sendinblue name (BrevoApi.credentials.ts: name = 'sendInBlueApi').
            Assert.That(call["nodeCredentialType"]!.GetValue<string>(), Is.EqualTo("sendInBlueApi"));
            Assert.That(call["options"]!["response"]!["response"]!["fullResponse"]!.GetValue<bool>(), Is.True, "the status code decides the next step");
        }

        var created = Node(workflow, "Created (201)?")["parameters"]!["conditions"]!["conditions"]![0]!;
        Assert.That(created["leftValue"]!.GetValue<string>(), Is.EqualTo("={{ $json.statusCode }}"));
        Assert.That(created["rightValue"]!.GetValue<int>(), Is.EqualTo(201));
        Assert.That(Outputs(workflow, "Created (201)?"), Is.EqualTo(new[] { new[] { "Remember delivery" }, new[] { "Brevo: look up contact id" } }));
    }

    [Test]
    public void A_lead_erased_message_deletes_the_Brevo_contact_by_id_and_only_an_erasure_is_answered_erased_true()
    {
        var workflow = Workflow;
        var erasure = Node(workflow, "Erasure?")["parameters"]!["conditions"]!["conditions"]![0]!;
        Assert.That((erasure["leftValue"]!.GetValue<string>(), erasure["rightValue"]!.GetValue<string>()), Is.EqualTo(("={{ $json.event }}", "lead.erased")));
        Assert.That(Outputs(workflow, "Signature valid?")[0], Is.EqualTo(new[] { "Erasure?" }));
        Assert.That(Outputs(workflow, "Erasure?"), Is.EqualTo(new[] { new[] { "Prepare Brevo erasure" }, new[] { "Canary?" } }));
        // A canary (docs/monitoring.md, "The canary") is answered before anything reaches Brevo; every other lead goes on.
        Assert.That(Outputs(workflow, "Canary?"), Is.EqualTo(new[] { new[] { "Answer canary" }, new[] { "Prepare Brevo contact" } }));
        Assert.That(Node(workflow, "Answer canary")["parameters"]!["responseBody"]!.GetValue<string>(), Does.Contain("canary: true"));

        var delete = Node(workflow, "Brevo: delete contact")["parameters"]!;
        Assert.That(delete["method"]!.GetValue<string>(), Is.EqualTo("DELETE"));
        Assert.That(delete["url"]!.GetValue<string>(), Is.EqualTo("={{ $json.brevoApiUrl }}/v3/contacts/{{ encodeURIComponent($json.brevoContactId) }}"));
        Assert.That(delete["queryParameters"]!["parameters"]![0]!.ToJsonString(), Is.EqualTo("""{"name":"identifierType","value":"contact_id"}"""));
        Assert.That(delete["nodeCredentialType"]!.GetValue<string>(), Is.EqualTo("sendInBlueApi"));
        Assert.That(delete["options"]!["response"]!["response"]!["neverError"]!.GetValue<bool>(), Is.True, "a 404 (already gone) reaches the check");
        Assert.That(Outputs(workflow, "Check Brevo erasure")[0], Is.EqualTo(new[] { "Erased?" }));
        Assert.That(Outputs(workflow, "Erased?"), Is.EqualTo(new[] { new[] { "Answer erased" }, new[] { "Brevo erasure failed" } }));

        var answer = Node(workflow, "Answer erased")["parameters"]!;
        Assert.That(answer["options"]!["responseCode"]!.GetValue<int>(), Is.EqualTo(200));
        Assert.That(answer["responseBody"]!.GetValue<string>(), Does.Contain("erased: true").And.Contain("contract: 2"));
        Assert.That(Node(workflow, "Brevo erasure failed")["parameters"]!["options"]!["responseCode"]!.GetValue<int>(), Is.EqualTo(502));
        var answers = Nodes(workflow).Where(static n => Type(n) == "n8n-nodes-base.respondToWebhook").Select(static n => n["parameters"]!["responseBody"]!.GetValue<string>());
        Assert.That(answers.Count(static b => b.Contains("erased: true", StringComparison.Ordinal)), Is.EqualTo(1), "only the erasure path says erased: true");
    }

    [Test]
    public void The_Brevo_calls_of_one_delivery_take_clearly_less_than_the_workers_request_timeout()
    {
        var workflow = Workflow;
        var workerTimeout = new OutboxOptions().RequestTimeout;
        var calls = Nodes(workflow).Where(static n => Type(n) == "n8n-nodes-base.httpRequest").ToList();
        Assert.That(calls, Is.Not.Empty);
        foreach (var call in calls)
        {
            var name = call["name"]!.GetValue<string>();
            Assert.That(call["parameters"]!["options"]?["timeout"], Is.Not.Null, $"'{name}' needs a timeout of its own");
            Assert.That(call["retryOnFail"]?.GetValue<bool>() ?? false, Is.False, $"'{name}' must not retry inside n8n: Hermes retries, and in-node retries multiply the budget");
        }

        // The longest chain of Brevo calls one execution can make, from the webhook to an answer.
        TimeSpan Longest(string name, HashSet<string> seen)
        {
            if (!seen.Add(name))
            {
                Assert.Fail($"the workflow has a loop through '{name}'");
            }

            var node = Node(workflow, name);
            var own = Type(node) == "n8n-nodes-base.httpRequest"
                ? TimeSpan.FromMilliseconds(node["parameters"]!["options"]!["timeout"]!.GetValue<int>())
                : TimeSpan.Zero;
            var next = Outputs(workflow, name).SelectMany(static o => o).Distinct().Select(n => Longest(n, [.. seen])).DefaultIfEmpty(TimeSpan.Zero).Max();
            return own + next;
        }

        var webhook = Nodes(workflow).Single(static n => Type(n) == "n8n-nodes-base.webhook")["name"]!.GetValue<string>();
        var budget = Longest(webhook, []);

        // n8n answers a hanging Brevo with 502 only after the budget runs out, plus its own work (a few hundred
        // ms measured in the real-n8n tests): a third of the worker's timeout stays free for that, so the
        // worker records n8n's answer instead of a timeout of its own.
        Assert.That(budget, Is.GreaterThan(TimeSpan.Zero));
        Assert.That(budget, Is.LessThanOrEqualTo(workerTimeout * 2 / 3), $"Brevo budget {budget} against Outbox:RequestTimeout {workerTimeout}");
    }

    [Test]
    public void Node_references_in_code_and_expressions_name_existing_nodes()
    {
        var workflow = Workflow;
        var names = Nodes(workflow).Select(static n => n["name"]!.GetValue<string>()).ToHashSet();
        var text = RepositoryFiles.Read("deploy", "n8n", "hermes-workflow.json");

        var referenced = NodeReference().Matches(text).Select(static m => m.Groups[1].Value).Distinct().ToList();

        Assert.That(referenced, Is.Not.Empty);
        Assert.That(referenced, Is.SubsetOf(names));
    }

    [Test]
    public async Task The_n8n_entrypoint_imports_credentials_matching_the_workflow_then_publishes_and_starts()
    {
        var sandbox = Directory.CreateTempSubdirectory("hermes-n8n-entrypoint-");
        try
        {
            var (result, log, credentials) = await RunEntrypointAsync(sandbox.FullName, new Dictionary<string, string?>
            {
                ["HERMES_WEBHOOK_SECRET"] = "whsec_c2VjcmV0LWZvci10aGUtaGVybWVzLWRlcGxveS10ZXN0cw==",
                ["HERMES_N8N_AUTH_HEADER_NAME"] = "X-Hermes-Auth",
                ["HERMES_N8N_AUTH_HEADER_VALUE"] = "value with \"quotes\", a \\ and a $dollar",
                ["BREVO_API_KEY"] = "xkeysib-test-only",
            });

            Assert.That(result.ExitCode, Is.Zero, result.Describe());
            Assert.That(log.Select(static l => l.Split(' ')[0]), Is.EqualTo(new[] { "import:credentials", "import:workflow", "publish:workflow", "start" }));
            Assert.That(log[1], Does.Contain("--separate"));
            Assert.That(log[2], Is.EqualTo("publish:workflow --id=" + Workflow["id"]!.GetValue<string>()));
            var credentialsFile = log[0].Split("--input=")[1];
            Assert.That(File.Exists(credentialsFile), Is.False, "the plain-text credentials file is removed after the import");

            var byId = credentials.AsArray().Select(static c => c!.AsObject()).ToDictionary(static c => c["id"]!.GetValue<string>());
            Assert.That(byId["HermesHeaderAuth"]["data"]!["value"]!.GetValue<string>(), Is.EqualTo("value with \"quotes\", a \\ and a $dollar"));
            Assert.That(byId["HermesHeaderAuth"]["data"]!["name"]!.GetValue<string>(), Is.EqualTo("X-Hermes-Auth"));
            Assert.That(byId["HermesBrevoApi"]["data"]!["apiKey"]!.GetValue<string>(), Is.EqualTo("xkeysib-test-only"));

            // Every credential a node uses is one the entrypoint imports: same id, name and type.
            foreach (var node in Nodes(Workflow).Where(static n => n["credentials"] is not null))
            {
                foreach (var (type, reference) in node["credentials"]!.AsObject())
                {
                    var imported = byId[reference!["id"]!.GetValue<string>()];
                    Assert.That(imported["type"]!.GetValue<string>(), Is.EqualTo(type), node["name"]!.GetValue<string>());
                    Assert.That(imported["name"]!.GetValue<string>(), Is.EqualTo(reference["name"]!.GetValue<string>()));
                }
            }
        }
        finally
        {
            sandbox.Delete(recursive: true);
        }
    }

    [Test]
    public async Task The_n8n_entrypoint_stops_before_n8n_when_a_secret_is_missing()
    {
        var sandbox = Directory.CreateTempSubdirectory("hermes-n8n-entrypoint-");
        try
        {
            var (result, log, _) = await RunEntrypointAsync(sandbox.FullName, new Dictionary<string, string?>
            {
                ["HERMES_WEBHOOK_SECRET"] = "whsec_c2VjcmV0LWZvci10aGUtaGVybWVzLWRlcGxveS10ZXN0cw==",
                ["HERMES_N8N_AUTH_HEADER_NAME"] = "X-Hermes-Auth",
                ["HERMES_N8N_AUTH_HEADER_VALUE"] = "v",
                ["BREVO_API_KEY"] = null,
            });

            Assert.That(result.ExitCode, Is.Not.Zero);
            Assert.That(result.StandardError, Does.Contain("BREVO_API_KEY"));
            Assert.That(log, Is.Empty, "n8n was not called");
        }
        finally
        {
            sandbox.Delete(recursive: true);
        }
    }

    /// <summary>Runs deploy/n8n/entrypoint.sh with a stand-in `n8n` that records its calls.</summary>
    private static async Task<(ToolResult Result, List<string> Log, JsonNode Credentials)> RunEntrypointAsync(string sandbox, Dictionary<string, string?> environment)
    {
        var sh = ExternalTool.Require("sh", "A POSIX shell runs the n8n entrypoint.");
        ExternalTool.Require("node", "The n8n entrypoint builds the credentials file with node.");
        var bin = Directory.CreateDirectory(Path.Combine(sandbox, "bin")).FullName;
        var workflows = Directory.CreateDirectory(Path.Combine(sandbox, "workflows")).FullName;
        File.Copy(RepositoryFiles.PathOf("deploy", "n8n", "hermes-workflow.json"), Path.Combine(workflows, "hermes-workflow.json"));
        var fake = Path.Combine(bin, "n8n");
        await File.WriteAllTextAsync(fake, """
            #!/bin/sh
            echo "$*" >> "$FAKE_N8N_LOG"
            if [ "$1" = import:credentials ]; then
              for arg in "$@"; do
                case $arg in --input=*) cp "${arg#--input=}" "$FAKE_N8N_OUT/credentials.json" ;; esac
              done
            fi
            exit 0

            """);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var logFile = Path.Combine(sandbox, "n8n.log");
        environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        environment["FAKE_N8N_LOG"] = logFile;
        environment["FAKE_N8N_OUT"] = sandbox;
        environment["HERMES_N8N_WORKFLOWS"] = workflows;

        var result = await ExternalTool.RunAsync(sh, [RepositoryFiles.PathOf("deploy", "n8n", "entrypoint.sh")], environment: environment, workingDirectory: sandbox);

        var log = File.Exists(logFile) ? (await File.ReadAllLinesAsync(logFile)).ToList() : [];
        var credentialsPath = Path.Combine(sandbox, "credentials.json");
        var credentials = File.Exists(credentialsPath) ? JsonNode.Parse(await File.ReadAllTextAsync(credentialsPath))! : new JsonArray();
        if (log.Count > 1)
        {
            Assert.That(log[1], Does.Contain("--input=" + workflows));
        }

        return (result, log, credentials);
    }

    [GeneratedRegex(@"\$\('([^']+)'\)")]
    private static partial Regex NodeReference();
}
