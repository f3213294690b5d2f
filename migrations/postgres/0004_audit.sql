-- Tamper-evident audit trail: one hash chain per organization (the nil
-- UUID is the system chain), its head, signed checkpoints, and the
-- Ed25519 keys that sign them (private halves sealed with the master key).

CREATE TABLE audit_heads (
    org_id  uuid PRIMARY KEY,
    seq     bigint NOT NULL,
    hash    text NOT NULL
);

CREATE TABLE audit_events (
    org_id         uuid NOT NULL,
    seq            bigint NOT NULL,
    id             uuid NOT NULL,
    time           timestamptz NOT NULL,
    action         text NOT NULL,
    outcome        text NOT NULL,
    actor_user     uuid,
    resource_type  text,
    resource_id    text,
    hash           text NOT NULL,
    -- The event exactly as hashed (JSON object, `hash` included).
    body           text NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX audit_events_time_idx ON audit_events (org_id, time);
CREATE INDEX audit_events_action_idx ON audit_events (org_id, action, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (org_id, actor_user, seq);
CREATE INDEX audit_events_resource_idx ON audit_events (org_id, resource_type, resource_id, seq);
CREATE UNIQUE INDEX audit_events_id_idx ON audit_events (org_id, id);

CREATE TABLE audit_checkpoints (
    org_id     uuid NOT NULL,
    seq        bigint NOT NULL,
    head_hash  text NOT NULL,
    issued_at  text NOT NULL,
    key_id     text NOT NULL,
    signature  text NOT NULL,
    PRIMARY KEY (org_id, seq, issued_at)
);

CREATE TABLE audit_keys (
    key_id           text PRIMARY KEY,
    public_key       bytea NOT NULL,
    private_key_enc  bytea NOT NULL,
    created_at       timestamptz NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_heads', 'audit_events', 'audit_checkpoints'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (org_id = loki_current_org()) WITH CHECK (org_id = loki_current_org())', t || '_tenant', t);
    END LOOP;
END
$$;

-- The trail is append-only for the daemon: no UPDATE or DELETE on events
-- or checkpoints (retention purges run as the owner).
GRANT SELECT, INSERT, UPDATE ON audit_heads TO loki_app;
GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO loki_app;
GRANT SELECT, INSERT ON audit_keys TO loki_app;
