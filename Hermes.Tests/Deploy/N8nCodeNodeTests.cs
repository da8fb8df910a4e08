using System.Text.Json.Nodes;
using static Hermes.Tests.Deploy.N8nCodeNode;

namespace Hermes.Tests.Deploy;

/// <summary>The n8n workflow's Code nodes (deploy/n8n/*.js), run under Node as n8n runs them.</summary>
public sealed class N8nCodeNodeTests
{
    // The Standard Webhooks specification's published test vector (also in the Svix libraries' tests).
    private const string VectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string VectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long VectorTimestamp = 1614265330;
    private const string VectorBody = "{\"test\": 2432232314}";
    private const string VectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    private const string Secret = "whsec_c2VjcmV0LWZvci10aGUtaGVybWVzLWRlcGxveS10ZXN0cw==";
    private const long Now = 1_795_000_000;

    private static JsonObject SecretEnv(string secret = Secret) => new() { ["HERMES_WEBHOOK_SECRET"] = secret };

    private static JsonObject SignedDelivery(string body, long timestamp = Now, string? signature = null, string id = "msg_lead_0001") =>
        WebhookItem(body, new Dictionary<string, string>
        {
            ["webhook-id"] = id,
            ["webhook-timestamp"] = timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["webhook-signature"] = signature ?? Sign(Secret, id, timestamp, body),
        });

    private static async Task<JsonObject> VerifyAsync(JsonObject item, long now = Now, JsonObject? env = null) =>
        SingleItem(await RunAsync(VerifySignature, Scenario(now, env ?? SecretEnv(), item)));

    [Test]
    public void The_tests_signer_reproduces_the_Standard_Webhooks_vector()
    {
        Assert.That(Sign(VectorSecret, VectorId, VectorTimestamp, VectorBody), Is.EqualTo(VectorSignature));
    }

    [Test]
    public async Task Verify_accepts_the_Standard_Webhooks_reference_signature()
    {
        var item = WebhookItem(VectorBody, new Dictionary<string, string>
        {
            ["webhook-id"] = VectorId,
            ["webhook-timestamp"] = "1614265330",
            ["webhook-signature"] = VectorSignature,
        });

        var output = await VerifyAsync(item, VectorTimestamp, SecretEnv(VectorSecret));

        // The signature is accepted; the vector's body is not a Hermes lead, so the payload check answers 400.
        Assert.That(output["signatureValid"]!.GetValue<bool>(), Is.True);
        Assert.That(output["verified"]!.GetValue<bool>(), Is.False);
        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(400));
    }

    [Test]
    public async Task Verify_accepts_one_matching_signature_among_several()
    {
        var item = WebhookItem(VectorBody, new Dictionary<string, string>
        {
            ["webhook-id"] = VectorId,
            ["webhook-timestamp"] = "1614265330",
            ["webhook-signature"] = "v1,bm9wZQ== v2,abc " + VectorSignature,
        });

        var output = await VerifyAsync(item, VectorTimestamp, SecretEnv(VectorSecret));

        Assert.That(output["signatureValid"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public async Task Verify_passes_a_signed_Hermes_payload_on()
    {
        var body = HermesPayload(leadId: "lead_0001", email: "ada@example.com");

        var output = await VerifyAsync(SignedDelivery(body));

        Assert.That(output["verified"]!.GetValue<bool>(), Is.True, output.ToJsonString());
        Assert.That(output["webhookId"]!.GetValue<string>(), Is.EqualTo("msg_lead_0001"));
        Assert.That(output["timestamp"]!.GetValue<long>(), Is.EqualTo(Now));
        Assert.That(output["payload"]!["lead"]!["email"]!.GetValue<string>(), Is.EqualTo("ada@example.com"));
        Assert.That(output["payload"]!["backupId"]!.GetValue<long>(), Is.EqualTo(42));
    }

    [Test]
    public async Task Verify_rejects_a_changed_body_with_401()
    {
        var body = HermesPayload();
        var signature = Sign(Secret, "msg_lead_0001", Now, body);
        var changed = body.Replace("ada@example.com", "eve@example.com", StringComparison.Ordinal);

        var output = await VerifyAsync(SignedDelivery(changed, signature: signature));

        Assert.That(output["verified"]!.GetValue<bool>(), Is.False);
        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(401));
        Assert.That(output["signatureValid"]!.GetValue<bool>(), Is.False);
    }

    [Test]
    public async Task Verify_rejects_a_signature_made_with_another_secret()
    {
        var body = HermesPayload();
        var signature = Sign("whsec_YW5vdGhlci1zZWNyZXQtZW50aXJlbHktZGlmZmVyZW50", "msg_lead_0001", Now, body);

        var output = await VerifyAsync(SignedDelivery(body, signature: signature));

        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(401));
    }

    [TestCase(-301)]
    [TestCase(301)]
    public async Task Verify_rejects_a_timestamp_more_than_five_minutes_from_now(int skewSeconds)
    {
        var body = HermesPayload();

        var output = await VerifyAsync(SignedDelivery(body, timestamp: Now + skewSeconds));

        Assert.That(output["verified"]!.GetValue<bool>(), Is.False);
        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(401));
        Assert.That(output["error"]!.GetValue<string>(), Does.Contain("webhook-timestamp"));
    }

    [TestCase(-299)]
    [TestCase(299)]
    public async Task Verify_accepts_a_timestamp_within_five_minutes(int skewSeconds)
    {
        var body = HermesPayload();

        var output = await VerifyAsync(SignedDelivery(body, timestamp: Now + skewSeconds));

        Assert.That(output["verified"]!.GetValue<bool>(), Is.True, output.ToJsonString());
    }

    [TestCase("webhook-id")]
    [TestCase("webhook-timestamp")]
    [TestCase("webhook-signature")]
    public async Task Verify_rejects_a_delivery_missing_a_signature_header(string header)
    {
        var item = SignedDelivery(HermesPayload());
        item["json"]!["headers"]!.AsObject().Remove(header);

        var output = await VerifyAsync(item);

        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(401));
    }

    [TestCase("")]
    [TestCase("not-a-whsec-secret")]
    [TestCase("whsec_c2hvcnQ=")]
    public async Task Verify_answers_500_when_n8n_has_no_usable_secret(string secret)
    {
        var output = await VerifyAsync(SignedDelivery(HermesPayload()), env: SecretEnv(secret));

        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(500));
        Assert.That(output["error"]!.GetValue<string>(), Does.Contain("HERMES_WEBHOOK_SECRET"));
    }

    [Test]
    public async Task Verify_answers_500_when_the_webhook_node_passes_no_raw_body()
    {
        var item = SignedDelivery(HermesPayload());
        item.Remove("rawBody");

        var output = await VerifyAsync(item);

        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(500));
        Assert.That(output["error"]!.GetValue<string>(), Does.Contain("Raw Body"));
    }

    [Test]
    public async Task Verify_rejects_a_payload_whose_id_is_not_the_webhook_id()
    {
        var body = HermesPayload(leadId: "lead_0001");

        var output = await VerifyAsync(SignedDelivery(body, id: "msg_someone_else"));

        Assert.That(output["signatureValid"]!.GetValue<bool>(), Is.True);
        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(400));
    }

    // The replay contract (docs/outbox-worker.md, "Webhook contract"): an operator's N-th replay is signed as
    // webhook-id msg_<leadId>_r<N> while the body's id stays msg_<leadId>.
    [TestCase("msg_lead_0001_r1")]
    [TestCase("msg_lead_0001_r12")]
    public async Task Verify_accepts_an_operator_replay_of_the_payload(string replayId)
    {
        var body = HermesPayload(leadId: "lead_0001");

        var output = await VerifyAsync(SignedDelivery(body, id: replayId));

        Assert.That(output["verified"]!.GetValue<bool>(), Is.True, output.ToJsonString());
        Assert.That(output["webhookId"]!.GetValue<string>(), Is.EqualTo(replayId), "a replay is a new message for the deduplication");
        Assert.That(output["payload"]!["id"]!.GetValue<string>(), Is.EqualTo("msg_lead_0001"));
    }

    [TestCase("msg_lead_0002_r1")]
    [TestCase("msg_lead_0001_r")]
    [TestCase("msg_lead_0001_rx")]
    [TestCase("msg_lead_0001_r1_r2")]
    [TestCase("msg_lead_0001_r-1")]
    [TestCase("msg_lead_0001x")]
    [TestCase("msg_lead_00")]
    public async Task Verify_rejects_a_webhook_id_that_is_neither_the_payload_id_nor_its_replay(string webhookId)
    {
        var body = HermesPayload(leadId: "lead_0001");

        var output = await VerifyAsync(SignedDelivery(body, id: webhookId));

        Assert.That(output["signatureValid"]!.GetValue<bool>(), Is.True);
        Assert.That(output["verified"]!.GetValue<bool>(), Is.False);
        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(400));
    }

    private static async Task<JsonObject> VerifiedAsync(string body)
    {
        var verified = await VerifyAsync(SignedDelivery(body));
        Assert.That(verified["verified"]!.GetValue<bool>(), Is.True, verified.ToJsonString());
        return verified;
    }

    [Test]
    public async Task Prepare_builds_a_create_or_update_contact_request()
    {
        var verified = await VerifiedAsync(HermesPayload(email: "ada@example.com"));

        var output = SingleItem(await RunAsync(PrepareContact, Scenario(Now, new JsonObject(), new JsonObject { ["json"] = verified })));

        Assert.That(output["duplicate"]!.GetValue<bool>(), Is.False);
        Assert.That(output["webhookId"]!.GetValue<string>(), Is.EqualTo("msg_lead_0001"));
        var contact = output["contact"]!.AsObject();
        Assert.That(contact["email"]!.GetValue<string>(), Is.EqualTo("ada@example.com"));
        Assert.That(contact["updateEnabled"]!.GetValue<bool>(), Is.True);
        Assert.That(contact["attributes"]!["FIRSTNAME"]!.GetValue<string>(), Is.EqualTo("Ada"));
        Assert.That(contact["attributes"]!["LASTNAME"]!.GetValue<string>(), Is.EqualTo("Lovelace"));
        Assert.That(contact.ContainsKey("listIds"), Is.False);
    }

    [TestCase(null, "https://api.brevo.com")]
    [TestCase("", "https://api.brevo.com")]
    [TestCase("http://127.0.0.1:5999", "http://127.0.0.1:5999")]
    [TestCase("https://brevo.staging.example.com/", "https://brevo.staging.example.com")]
    [TestCase("https://proxy.example.com/brevo//", "https://proxy.example.com/brevo")]
    public async Task Prepare_takes_Brevos_base_address_from_BREVO_API_URL(string? setting, string expected)
    {
        var verified = await VerifiedAsync(HermesPayload());
        var env = new JsonObject();
        if (setting is not null)
        {
            env["BREVO_API_URL"] = setting;
        }

        var output = SingleItem(await RunAsync(PrepareContact, Scenario(Now, env, new JsonObject { ["json"] = verified })));

        Assert.That(output["brevoApiUrl"]!.GetValue<string>(), Is.EqualTo(expected));
    }

    [TestCase("ftp://brevo.example.com")]
    [TestCase("not a url")]
    [TestCase("https://user:secret@brevo.example.com")]
    public async Task Prepare_fails_on_a_BREVO_API_URL_that_is_not_an_http_base_address(string setting)
    {
        var verified = await VerifiedAsync(HermesPayload());

        var result = await RunAsync(PrepareContact, Scenario(Now, new JsonObject { ["BREVO_API_URL"] = setting }, new JsonObject { ["json"] = verified }));

        Assert.That(result["ok"]!.GetValue<bool>(), Is.False, "a wrong setting answers 500: Hermes retries until it is fixed");
        Assert.That(result["error"]!.GetValue<string>(), Does.Contain("BREVO_API_URL"));
    }

    [TestCase(true, "7", true)]
    [TestCase(false, "7", false)]
    [TestCase(true, "", false)]
    [TestCase(true, "not-a-number", false)]
    public async Task Prepare_adds_the_marketing_list_only_for_consenting_contacts(bool consent, string listId, bool expectList)
    {
        var verified = await VerifiedAsync(HermesPayload(marketingConsent: consent));

        var output = SingleItem(await RunAsync(PrepareContact, Scenario(Now, new JsonObject { ["BREVO_LIST_ID"] = listId }, new JsonObject { ["json"] = verified })));

        var contact = output["contact"]!.AsObject();
        Assert.That(contact.ContainsKey("listIds"), Is.EqualTo(expectList));
        if (expectList)
        {
            Assert.That(contact["listIds"]!.AsArray().Select(static n => n!.GetValue<int>()), Is.EqualTo(new[] { 7 }));
        }
    }

    [Test]
    public async Task Prepare_answers_a_remembered_webhook_id_with_the_earlier_contact_id()
    {
        var verified = await VerifiedAsync(HermesPayload());
        var scenario = Scenario(Now, new JsonObject(), new JsonObject { ["json"] = verified });
        scenario["staticData"] = new JsonObject
        {
            ["hermesDelivered"] = new JsonObject { ["msg_lead_0001"] = new JsonObject { ["brevoContactId"] = "4711", ["at"] = Now - 60 } },
        };

        var output = SingleItem(await RunAsync(PrepareContact, scenario));

        Assert.That(output["duplicate"]!.GetValue<bool>(), Is.True);
        Assert.That(output["brevoContactId"]!.GetValue<string>(), Is.EqualTo("4711"));
    }

    private static JsonObject RememberScenario(JsonObject brevoResponse, JsonObject? staticData = null)
    {
        var scenario = Scenario(Now, new JsonObject(), new JsonObject { ["json"] = brevoResponse });
        scenario["nodes"] = new JsonObject
        {
            ["Prepare Brevo contact"] = new JsonArray(new JsonObject { ["json"] = new JsonObject { ["webhookId"] = "msg_lead_0001", ["duplicate"] = false } }),
        };
        if (staticData is not null)
        {
            scenario["staticData"] = staticData;
        }

        return scenario;
    }

    [TestCase(201)]
    [TestCase(200)]
    public async Task Remember_answers_and_remembers_the_contact_id_Brevo_gave(int statusCode)
    {
        var response = new JsonObject { ["statusCode"] = statusCode, ["headers"] = new JsonObject(), ["body"] = new JsonObject { ["id"] = 42, ["email"] = "ada@example.com" } };

        var result = await RunAsync(RememberDelivery, RememberScenario(response));

        var output = SingleItem(result);
        Assert.That(output["brevoContactId"]!.GetValue<string>(), Is.EqualTo("42"));
        var remembered = result["staticData"]!["hermesDelivered"]!["msg_lead_0001"]!;
        Assert.That(remembered["brevoContactId"]!.GetValue<string>(), Is.EqualTo("42"));
        Assert.That(remembered["at"]!.GetValue<long>(), Is.EqualTo(Now));
    }

    [Test]
    public async Task Remember_fails_when_Brevo_answered_without_a_contact_id()
    {
        var response = new JsonObject { ["statusCode"] = 204, ["headers"] = new JsonObject(), ["body"] = "" };

        var result = await RunAsync(RememberDelivery, RememberScenario(response));

        Assert.That(result["ok"]!.GetValue<bool>(), Is.False);
        Assert.That(result["error"]!.GetValue<string>(), Does.Contain("without a contact id"));
        Assert.That(result["staticData"]!.AsObject().ContainsKey("hermesDelivered"), Is.False);
    }

    [Test]
    public async Task Remember_forgets_deliveries_older_than_seven_days()
    {
        var staticData = new JsonObject
        {
            ["hermesDelivered"] = new JsonObject
            {
                ["msg_old"] = new JsonObject { ["brevoContactId"] = "1", ["at"] = Now - (8 * 86400) },
                ["msg_recent"] = new JsonObject { ["brevoContactId"] = "2", ["at"] = Now - (6 * 86400) },
            },
        };
        var response = new JsonObject { ["statusCode"] = 201, ["body"] = new JsonObject { ["id"] = 3 } };

        var result = await RunAsync(RememberDelivery, RememberScenario(response, staticData));

        var remembered = result["staticData"]!["hermesDelivered"]!.AsObject();
        Assert.That(remembered.Select(static p => p.Key), Is.EquivalentTo(new[] { "msg_lead_0001", "msg_recent" }));
    }

    [Test]
    public async Task A_delivery_remembered_by_one_execution_is_answered_from_memory_by_the_next()
    {
        var first = await RunAsync(RememberDelivery, RememberScenario(new JsonObject { ["statusCode"] = 201, ["body"] = new JsonObject { ["id"] = 99 } }));
        var verified = await VerifiedAsync(HermesPayload());
        var retry = Scenario(Now + 30, new JsonObject(), new JsonObject { ["json"] = verified });
        retry["staticData"] = Clone(first["staticData"]);

        var output = SingleItem(await RunAsync(PrepareContact, retry));

        Assert.That(output["duplicate"]!.GetValue<bool>(), Is.True);
        Assert.That(output["brevoContactId"]!.GetValue<string>(), Is.EqualTo("99"));
    }

    private static string ErasurePayload(string leadId = "lead_0001", object? contactId = null) =>
        new JsonObject
        {
            ["type"] = "lead.erased",
            ["version"] = 1,
            ["id"] = $"msg_{leadId}_erased",
            ["leadId"] = leadId,
            ["backupId"] = 42,
            ["brevoContactId"] = JsonValue.Create(contactId ?? "1234"),
            ["erasedAt"] = "2026-12-06T10:00:00.123456+00:00",
        }.ToJsonString();

    [Test]
    public async Task Verify_passes_a_signed_lead_erased_payload_on_as_an_erasure()
    {
        var output = await VerifyAsync(SignedDelivery(ErasurePayload(), id: "msg_lead_0001_erased"));

        Assert.That(output["verified"]!.GetValue<bool>(), Is.True, output.ToJsonString());
        Assert.That(output["event"]!.GetValue<string>(), Is.EqualTo("lead.erased"));
        Assert.That(output["payload"]!["brevoContactId"]!.GetValue<string>(), Is.EqualTo("1234"));
    }

    [TestCase("""{"type":"lead.merged","version":1,"id":"msg_lead_0001"}""", "unknown event type lead.merged")]
    [TestCase("""{"type":"lead.submitted","version":2,"id":"msg_lead_0001","lead":{"email":"ada@example.com"}}""", "lead.submitted version 2 is unknown")]
    [TestCase("""{"type":"constructor","version":1,"id":"msg_lead_0001"}""", "unknown event type constructor")]
    public async Task Verify_refuses_an_event_type_or_version_contract_2_does_not_have_with_422(string body, string error)
    {
        var output = await VerifyAsync(SignedDelivery(body));

        Assert.That(output["verified"]!.GetValue<bool>(), Is.False);
        Assert.That(output["status"]!.GetValue<int>(), Is.EqualTo(422), "never a silent 200");
        Assert.That(output["error"]!.GetValue<string>(), Does.Contain(error).And.Contain("webhook contract 2"));
    }

    [TestCase("")]
    [TestCase("abc")]
    [TestCase("12 34")]
    public async Task Verify_refuses_a_lead_erased_payload_without_a_Brevo_contact_id_with_400(string contactId)
    {
        var output = await VerifyAsync(SignedDelivery(ErasurePayload(contactId: contactId), id: "msg_lead_0001_erased"));

        Assert.That((output["verified"]!.GetValue<bool>(), output["status"]!.GetValue<int>()), Is.EqualTo((false, 400)));
    }

    [Test]
    public async Task Prepare_erasure_names_the_contact_and_the_configured_Brevo_address()
    {
        var verified = await VerifiedErasureAsync();

        var output = SingleItem(await RunAsync(PrepareErasure, Scenario(Now, new JsonObject { ["BREVO_API_URL"] = "http://127.0.0.1:9/brevo/" }, new JsonObject { ["json"] = verified })));

        Assert.That(output["brevoContactId"]!.GetValue<string>(), Is.EqualTo("1234"));
        Assert.That(output["brevoApiUrl"]!.GetValue<string>(), Is.EqualTo("http://127.0.0.1:9/brevo"));
        Assert.That(output["webhookId"]!.GetValue<string>(), Is.EqualTo("msg_lead_0001_erased"));
    }

    private static async Task<JsonObject> VerifiedErasureAsync()
    {
        var verified = await VerifyAsync(SignedDelivery(ErasurePayload(), id: "msg_lead_0001_erased"));
        Assert.That(verified["verified"]!.GetValue<bool>(), Is.True, verified.ToJsonString());
        return verified;
    }

    [TestCase(204, null, true, false)]
    [TestCase(404, "document_not_found", true, true)]
    [TestCase(404, "not_found_anywhere", false, false)]
    [TestCase(401, "unauthorized", false, false)]
    [TestCase(503, "internal_error", false, false)]
    public async Task Check_erasure_takes_204_and_Brevos_404_document_not_found_as_erased_and_nothing_else(int status, string? code, bool erased, bool alreadyGone)
    {
        var response = new JsonObject
        {
            ["statusCode"] = status,
            ["body"] = code is null ? "" : new JsonObject { ["code"] = code, ["message"] = "Brevo says so" },
        };
        var scenario = Scenario(Now, new JsonObject(), new JsonObject { ["json"] = response });
        scenario["nodes"] = new JsonObject
        {
            ["Prepare Brevo erasure"] = new JsonArray(new JsonObject { ["json"] = new JsonObject { ["brevoContactId"] = "1234" } }),
        };

        var output = SingleItem(await RunAsync(CheckErasure, scenario));

        Assert.That(output["erased"]!.GetValue<bool>(), Is.EqualTo(erased));
        Assert.That(output["brevoContactId"]!.GetValue<string>(), Is.EqualTo("1234"));
        if (erased)
        {
            Assert.That(output["alreadyGone"]!.GetValue<bool>(), Is.EqualTo(alreadyGone));
        }
        else
        {
            Assert.That(output["error"]!.GetValue<string>(), Does.Contain($"Brevo answered {status}"));
        }
    }
}
