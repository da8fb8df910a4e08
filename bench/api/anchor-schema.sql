-- The physical anchor of bench/api (issue: "Submission path at the physical limit"): the seed's hermes_leads table,
-- column for column and index for index as docs/seeds' build plan writes it, and the least outbox row there can be
-- (id, lead, payload, status), in a schema of its own beside Hermes' tables, with no trigger. What PostgreSQL costs
-- for storing a lead and its outbox row when nothing else is asked of it.
DROP SCHEMA IF EXISTS anchor CASCADE;
CREATE SCHEMA anchor;
CREATE TABLE anchor.hermes_leads (
    id SERIAL PRIMARY KEY,
    lead_id VARCHAR(50) UNIQUE NOT NULL,
    brevo_contact_id VARCHAR(100),
    first_name VARCHAR(100) NOT NULL,
    last_name VARCHAR(100) NOT NULL,
    email VARCHAR(255) NOT NULL,
    country VARCHAR(100) NOT NULL,
    phone_number VARCHAR(50) NOT NULL,
    user_role VARCHAR(100),
    problem_description TEXT NOT NULL,
    company_name VARCHAR(255),
    company_size VARCHAR(50),
    service_urgency VARCHAR(50) NOT NULL DEFAULT 'not-urgent',
    agree_to_terms BOOLEAN NOT NULL DEFAULT FALSE,
    privacy_consent BOOLEAN NOT NULL DEFAULT FALSE,
    marketing_consent BOOLEAN DEFAULT FALSE,
    captcha_token VARCHAR(500),
    user_agent TEXT,
    ip_address INET,
    source VARCHAR(50) NOT NULL DEFAULT 'hermes-website',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    n8n_webhook_sent_at TIMESTAMP WITH TIME ZONE,
    n8n_response_received_at TIMESTAMP WITH TIME ZONE,
    n8n_response_data JSONB,
    n8n_success BOOLEAN DEFAULT FALSE,
    n8n_error_message TEXT,
    status VARCHAR(50) DEFAULT 'new',
    processed_at TIMESTAMP WITH TIME ZONE,
    assigned_to VARCHAR(100),
    notes TEXT,
    lead_score INTEGER DEFAULT 0,
    priority VARCHAR(20) DEFAULT 'low',
    tags TEXT[],
    ai_analysis JSONB,
    estimated_value DECIMAL(10,2),
    CONSTRAINT idx_hermes_leads_lead_id UNIQUE (lead_id),
    -- The seed names this constraint idx_hermes_leads_brevo_id, as it names the plain index below: its script stops
    -- there ("already exists"). Renamed so that both exist, as the seed means them to.
    CONSTRAINT idx_hermes_leads_brevo_id_unique UNIQUE (brevo_contact_id)
);
CREATE INDEX idx_hermes_leads_email ON anchor.hermes_leads(email);
CREATE INDEX idx_hermes_leads_created_at ON anchor.hermes_leads(created_at);
CREATE INDEX idx_hermes_leads_status ON anchor.hermes_leads(status);
CREATE INDEX idx_hermes_leads_n8n_success ON anchor.hermes_leads(n8n_success);
CREATE INDEX idx_hermes_leads_brevo_id ON anchor.hermes_leads(brevo_contact_id);
CREATE TABLE anchor.hermes_outbox (
    id BIGSERIAL PRIMARY KEY,
    lead_id INTEGER NOT NULL,
    payload JSONB NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending'
);
