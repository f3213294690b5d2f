-- Tamper-evident audit trail: one hash chain per organization (the nil
-- UUID is the system chain), its head, signed checkpoints, and the
-- Ed25519 keys that sign them (private halves sealed with the master key).

CREATE TABLE audit_heads (
    org_id  BLOB PRIMARY KEY NOT NULL,
    seq     INTEGER NOT NULL,
    hash    TEXT NOT NULL
);

CREATE TABLE audit_events (
    org_id         BLOB NOT NULL,
    seq            INTEGER NOT NULL,
    id             BLOB NOT NULL,
    time           TEXT NOT NULL,
    action         TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    actor_user     BLOB,
    resource_type  TEXT,
    resource_id    TEXT,
    hash           TEXT NOT NULL,
    -- The event exactly as hashed (JSON object, `hash` included).
    body           TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX audit_events_time_idx ON audit_events (org_id, time);
CREATE INDEX audit_events_action_idx ON audit_events (org_id, action, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (org_id, actor_user, seq);
CREATE INDEX audit_events_resource_idx ON audit_events (org_id, resource_type, resource_id, seq);
CREATE UNIQUE INDEX audit_events_id_idx ON audit_events (org_id, id);

CREATE TABLE audit_checkpoints (
    org_id     BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    head_hash  TEXT NOT NULL,
    issued_at  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    signature  TEXT NOT NULL,
    PRIMARY KEY (org_id, seq, issued_at)
);

CREATE TABLE audit_keys (
    key_id           TEXT PRIMARY KEY NOT NULL,
    public_key       BLOB NOT NULL,
    private_key_enc  BLOB NOT NULL,
    created_at       TEXT NOT NULL
);
