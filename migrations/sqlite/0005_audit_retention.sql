-- Retention: purges remove events up to a signed checkpoint (enforced by
-- the daemon on SQLite, by a function on PostgreSQL). Nothing to create.
SELECT 1;
