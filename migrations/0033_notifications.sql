-- Notifications (issue 27): where alerts are sent (channels), which rules send where, and
-- every notification owed (deliveries) with each attempt to send it.
--
-- 1. notification_channels: a webhook (its URL, its body format, its Standard Webhooks
--    secret and, while rotated, the previous one) or an email (an SMTP server, how to reach
--    it, whom to write). Secrets are stored sealed (domain::sealed, bound to the channel's
--    id): the database holds only ciphertext. A webhook's URL is one (a Slack or Teams URL
--    is its own credential): sealed, with only its origin (scheme, host, port) in clear for
--    the console. A channel the receiver answered `410 Gone` is
--    disabled with the reason. Never deleted, only marked: deliveries stay explained.
-- 2. alert_rule_channels: the channels a rule notifies.
-- 3. deliveries: one notification owed to one channel, written in the transaction that
--    decided its alert (so a decision is never without its deliveries). Its id is the
--    receiver's idempotency key (`webhook-id: msg_<id>`), the same on every attempt; its body
--    is fixed at the first attempt. Claimed with FOR UPDATE SKIP LOCKED and a lease, sent
--    outside any transaction; a lapsed lease puts it back in the queue (so: at least once).
--    `dead` after `give_up_after` attempts, until someone redelivers it. A finished
--    delivery's body (copies of entries) is forgotten after 30 days; a redelivery writes it
--    again from the log.
-- 4. delivery_attempts: every attempt, its answer or error, how long it took and when the
--    next one is due.

CREATE TABLE notification_channels (
    id              uuid        PRIMARY KEY,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind            text        NOT NULL CHECK (kind IN ('webhook', 'email')),
    -- webhook
    url             bytea,
    url_origin      text        CHECK (length(url_origin) BETWEEN 1 AND 300),
    body_format     text        CHECK (body_format IN ('standard', 'slack')),
    secret          bytea,
    previous_secret bytea,
    previous_until  timestamptz,
    -- email
    smtp_host       text        CHECK (length(smtp_host) BETWEEN 1 AND 253),
    smtp_port       integer     CHECK (smtp_port BETWEEN 1 AND 65535),
    smtp_security   text        CHECK (smtp_security IN ('starttls', 'tls', 'plain')),
    smtp_username   text        CHECK (length(smtp_username) BETWEEN 1 AND 255),
    smtp_password   bytea,
    mail_from       text        CHECK (length(mail_from) BETWEEN 3 AND 320),
    mail_to         text[]      CHECK (cardinality(mail_to) BETWEEN 1 AND 20),
    enabled         boolean     NOT NULL DEFAULT true,
    disabled_reason text        CHECK (length(disabled_reason) <= 1000),
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz,
    CONSTRAINT notification_channels_kind CHECK (
        (kind = 'webhook' AND url IS NOT NULL AND url_origin IS NOT NULL AND body_format IS NOT NULL AND secret IS NOT NULL
            AND num_nonnulls(smtp_host, smtp_port, smtp_security, smtp_username, smtp_password,
                             mail_from, mail_to) = 0)
        OR (kind = 'email' AND smtp_host IS NOT NULL AND smtp_port IS NOT NULL
            AND smtp_security IS NOT NULL AND mail_from IS NOT NULL AND mail_to IS NOT NULL
            AND (smtp_username IS NULL) = (smtp_password IS NULL)
            AND num_nonnulls(url, url_origin, body_format, secret, previous_secret, previous_until) = 0)),
    CONSTRAINT notification_channels_rotation CHECK ((previous_secret IS NULL) = (previous_until IS NULL))
);

CREATE TABLE alert_rule_channels (
    rule_id    uuid NOT NULL REFERENCES alert_rules (id),
    channel_id uuid NOT NULL REFERENCES notification_channels (id),
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channels_by_channel ON alert_rule_channels (channel_id);

CREATE TABLE deliveries (
    id            uuid        PRIMARY KEY,
    -- NULL for a test notification (sent from the console to try a channel).
    alert_id      uuid        REFERENCES alerts (id),
    channel_id    uuid        NOT NULL REFERENCES notification_channels (id),
    body          text        CHECK (length(body) <= 1048576),
    -- What the body was written as (`standard`, `slack`, `email`): a channel changed to
    -- another format during retries gets a body in its new one (the same webhook-id).
    body_kind     text        CHECK (body_kind IN ('standard', 'slack', 'email')),
    status        text        NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    give_up_after integer     NOT NULL CHECK (give_up_after >= 1),
    next_at       timestamptz NOT NULL,
    lease_owner   uuid,
    lease_until   timestamptz,
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    last_error    text        CHECK (length(last_error) <= 1000),
    CONSTRAINT deliveries_finished CHECK ((status = 'pending') = (finished_at IS NULL)),
    CONSTRAINT deliveries_body CHECK ((body IS NULL) OR (body_kind IS NOT NULL))
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_alert ON deliveries (alert_id);
CREATE INDEX deliveries_by_time ON deliveries (created_at DESC, id);

CREATE TABLE delivery_attempts (
    delivery_id uuid        NOT NULL REFERENCES deliveries (id),
    attempt     integer     NOT NULL CHECK (attempt >= 1),
    at          timestamptz NOT NULL,
    -- The answer: an HTTP status (webhooks) or an SMTP reply code (email, 250 when taken).
    status_code integer     CHECK (status_code BETWEEN 100 AND 599),
    error       text        CHECK (length(error) <= 1000),
    latency_ms  integer     NOT NULL CHECK (latency_ms >= 0),
    -- When the next attempt is due; NULL when there is none (delivered, or dead).
    next_at     timestamptz,
    PRIMARY KEY (delivery_id, attempt),
    CONSTRAINT delivery_attempts_outcome CHECK (status_code IS NOT NULL OR error IS NOT NULL)
);

GRANT SELECT, INSERT, UPDATE ON notification_channels TO trailkeep_writer;
GRANT SELECT, INSERT, DELETE ON alert_rule_channels TO trailkeep_writer;
GRANT SELECT, INSERT, UPDATE ON deliveries TO trailkeep_writer;
GRANT SELECT, INSERT ON delivery_attempts TO trailkeep_writer;

-- API keys gain the scope `admin`: alerting configured as code (rules, channels, deliveries).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['ingest', 'read', 'admin']::text[] AND cardinality(scopes) > 0);
