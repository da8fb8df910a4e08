-- The API's write, as pgbench runs it: one transaction with the lead (every column the API sends: the EF Core model's
-- non-generated columns, RETURNING the database-assigned id and time) and its outbox row (the frozen webhook payload,
-- ~1 KB of JSON, and a traceparent; nothing returned, as the API reads nothing back from it).
-- Same columns, same kind of values, same round trips; the outbox insert fires the same NOTIFY trigger.
-- (pgbench reads ":name" anywhere as a variable, even inside a string: hence ": true" with a space in the JSON.)
BEGIN;
INSERT INTO hermes_leads (agree_to_terms, ai_analysis, assigned_to, brevo_contact_id, captcha_token, company_name,
    company_size, country, email, erased_at, estimated_value, first_name, idempotency_key, ip_address, last_name,
    lead_id, lead_score, marketing_consent, n8n_error_message, n8n_response_data, n8n_response_received_at,
    n8n_success, n8n_webhook_sent_at, notes, phone_number, priority, privacy_consent, problem_description,
    processed_at, request_hash, service_urgency, source, status, tags, user_agent, user_role)
VALUES (TRUE, NULL, NULL, NULL, 'token-123', 'Analytical Engines Ltd',
    '11-50', 'United Kingdom', 'ada@example.com', NULL, NULL, 'Ada', NULL, '127.0.0.1', 'Lovelace',
    'lead_' || substr(md5(random()::text || clock_timestamp()::text), 1, 26), 0, FALSE, NULL, NULL, NULL,
    FALSE, NULL, NULL, '+44 20 7946 0958', 'high', TRUE, E'Our web shop was defaced last night.\nWe need an incident response.',
    NULL, NULL, 'urgent', 'hermes-website', 'queued', NULL, 'Mozilla/5.0 (X11; Linux x86_64) HermesBench/1.0', 'CISO')
RETURNING id, created_at \gset
INSERT INTO hermes_outbox (attempts, delivered_at, last_error, last_status_code, lead_id, locked_by, payload,
    replay_count, status, traceparent, type)
VALUES (0, NULL, NULL, NULL, :id, NULL,
    ('{"type":"lead.submitted","version":1,"id":"msg_lead_0000000000000000000000000x","leadId":"lead_0000000000000000000000000x","backupId":'
     || :id || ',"submittedAt":"' || :created_at || '","lead":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",'
     || '"country":"United Kingdom","phoneNumber":"\u002B44 20 7946 0958","userRole":"CISO","problemDescription":"Our web shop was '
     || 'defaced last night.\nWe need an incident response.","companyName":"Analytical Engines Ltd","companySize":"11-50",'
     || '"serviceUrgency":"urgent","priority":"high","agreeToTerms": true,"privacyConsent": true,"marketingConsent": false},'
     || '"metadata":{"userAgent":"Mozilla/5.0 (X11; Linux x86_64) HermesBench/1.0","ipAddress":"127.0.0.1","source":"hermes-website"}}')::jsonb,
    0, 'pending', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'lead.submitted');
COMMIT;
