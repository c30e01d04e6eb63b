-- Trailkeep foundation: the append-only, hash-chained audit log and the accounts that use it.
-- This file and its successors are the single truth of the schema.

-- The role the server works as. It may read and append to the log, never change or remove it.
-- Created once per cluster; several databases (one per test) may race to create it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trailkeep_writer') THEN
        CREATE ROLE trailkeep_writer NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE audit_entries (
    seq           bigint      NOT NULL,
    id            uuid        NOT NULL,
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL,
    actor_type    text        NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id      text        NOT NULL CHECK (actor_id <> ''),
    actor_name    text,
    actor_email   text,
    action        text        NOT NULL CHECK (action ~ '^[a-z0-9_]+(\.[a-z0-9_]+)+$' AND length(action) <= 128),
    category      text        NOT NULL GENERATED ALWAYS AS (split_part(action, '.', 1)) STORED,
    resource_type text,
    resource_id   text,
    ip            inet,
    user_agent    text,
    status        text        NOT NULL CHECK (status IN ('success', 'failure')),
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object'),
    leaf_hash     bytea       NOT NULL CHECK (length(leaf_hash) = 32),
    chain_hash    bytea       NOT NULL CHECK (length(chain_hash) = 32),
    CONSTRAINT audit_entries_pkey PRIMARY KEY (seq),
    CONSTRAINT audit_entries_id_key UNIQUE (id),
    CONSTRAINT audit_entries_seq_nonnegative CHECK (seq >= 0),
    CONSTRAINT audit_entries_resource_pair CHECK ((resource_type IS NULL) = (resource_id IS NULL))
);

-- The head of the chain: one row, locked by every appending transaction. It serialises all
-- writers of all server processes inside PostgreSQL, so seq stays gapless and the chain unforked.
CREATE TABLE chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    next_seq   bigint  NOT NULL,
    head_hash  bytea   NOT NULL CHECK (length(head_hash) = 32)
);
INSERT INTO chain_head (next_seq, head_hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Immutability is enforced by the database, whoever connects.
CREATE FUNCTION audit_entries_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Entries can never be changed or removed; append a correcting entry instead.';
END
$$;

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_reject_change();
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_reject_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();

CREATE FUNCTION chain_head_reject_rewind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.next_seq < OLD.next_seq THEN
        RAISE EXCEPTION 'chain_head only moves forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER chain_head_forward_only BEFORE UPDATE OR DELETE ON chain_head
    FOR EACH ROW EXECUTE FUNCTION chain_head_reject_rewind();
CREATE TRIGGER chain_head_no_truncate BEFORE TRUNCATE ON chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();

-- Indexes for the filters: time order with seq as tie-breaker, and each filter column
-- followed by the same order so a filtered first page is an index range scan.
CREATE INDEX audit_entries_time_idx     ON audit_entries (occurred_at, seq);
CREATE INDEX audit_entries_actor_idx    ON audit_entries (actor_id, occurred_at, seq);
CREATE INDEX audit_entries_email_idx    ON audit_entries (lower(actor_email), occurred_at, seq) WHERE actor_email IS NOT NULL;
CREATE INDEX audit_entries_action_idx   ON audit_entries (action, occurred_at, seq);
CREATE INDEX audit_entries_category_idx ON audit_entries (category, occurred_at, seq);
CREATE INDEX audit_entries_resource_idx ON audit_entries (resource_id, resource_type, occurred_at, seq) WHERE resource_id IS NOT NULL;
CREATE INDEX audit_entries_failure_idx  ON audit_entries (occurred_at, seq) WHERE status = 'failure';

-- Accounts.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL,
    name          text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'compliance', 'member')),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deactivated_at timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE sessions (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_keys (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    prefix     text        NOT NULL,
    key_hash   bytea       NOT NULL UNIQUE,
    scopes     text[]      NOT NULL CHECK (scopes <@ ARRAY['ingest', 'read']::text[] AND cardinality(scopes) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- What the server role may do.
GRANT SELECT, INSERT ON audit_entries TO trailkeep_writer;
GRANT SELECT, UPDATE ON chain_head TO trailkeep_writer;
GRANT SELECT, INSERT, UPDATE ON users, api_keys TO trailkeep_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO trailkeep_writer;
