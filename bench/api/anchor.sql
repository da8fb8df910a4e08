-- The physical anchor's transaction (anchor-schema.sql): a lead with the form's fields, RETURNING its id, and its
-- outbox row with the same ~1 KB payload as two-row-insert.sql; one transaction, no trigger.
BEGIN;
INSERT INTO anchor.hermes_leads (lead_id, first_name, last_name, email, country, phone_number, user_role,
    problem_description, company_name, company_size, service_urgency, agree_to_terms, privacy_consent,
    marketing_consent, captcha_token, user_agent, ip_address, source, status, priority)
VALUES ('lead_' || substr(md5(random()::text || clock_timestamp()::text), 1, 26), 'Ada', 'Lovelace', 'ada@example.com',
    'United Kingdom', '+44 20 7946 0958', 'CISO', E'Our web shop was defaced last night.\nWe need an incident response.',
    'Analytical Engines Ltd', '11-50', 'urgent', TRUE, TRUE, FALSE, 'token-123',
    'Mozilla/5.0 (X11; Linux x86_64) HermesBench/1.0', '127.0.0.1', 'hermes-website', 'queued', 'high')
RETURNING id \gset
INSERT INTO anchor.hermes_outbox (lead_id, payload)
VALUES (:id,
    ('{"type":"lead.submitted","version":1,"id":"msg_lead_0000000000000000000000000x","leadId":"lead_0000000000000000000000000x","backupId":'
     || :id || ',"submittedAt":"2026-12-02T00:00:00Z","lead":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",'
     || '"country":"United Kingdom","phoneNumber":"\u002B44 20 7946 0958","userRole":"CISO","problemDescription":"Our web shop was '
     || 'defaced last night.\nWe need an incident response.","companyName":"Analytical Engines Ltd","companySize":"11-50",'
     || '"serviceUrgency":"urgent","priority":"high","agreeToTerms": true,"privacyConsent": true,"marketingConsent": false},'
     || '"metadata":{"userAgent":"Mozilla/5.0 (X11; Linux x86_64) HermesBench/1.0","ipAddress":"127.0.0.1","source":"hermes-website"}}')::jsonb);
COMMIT;
