-- Audit key rotation: a key that succeeds another carries the predecessor's
-- id and its signature over the succession statement (docs/AUDIT-FORMAT.md,
-- "Key succession"), so trust pinned on one key carries to its successors.
ALTER TABLE audit_keys ADD COLUMN predecessor TEXT;
ALTER TABLE audit_keys ADD COLUMN introduction TEXT;
