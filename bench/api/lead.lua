-- wrk script: every request is one new contact-form submission to POST /api/leads (no Idempotency-Key, so each
-- one stores a lead and its outbox row). wrk reports any answer that is not 2xx as "Non-2xx or 3xx responses".
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) HermesBench/1.0"
wrk.body = [[{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","country":"United Kingdom","phoneNumber":"+44 20 7946 0958","userRole":"CISO","problemDescription":"Our web shop was defaced last night.\nWe need an incident response.","companyName":"Analytical Engines Ltd","companySize":"11-50","serviceUrgency":"urgent","agreeToTerms":true,"privacyConsent":true,"marketingConsent":false,"captchaToken":"token-123","source":"hermes-website"}]]
