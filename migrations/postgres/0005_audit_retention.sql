-- Retention. The daemon's role cannot delete audit events; this function
-- (running as the owner) deletes an organization's events up to `p_upto`
-- only when a signed checkpoint at `p_upto` anchors what remains. Row-level
-- security still applies, so it acts only inside the caller's tenant scope.
CREATE FUNCTION loki_audit_purge(p_org uuid, p_upto bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
    AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE org_id = p_org AND seq = p_upto) THEN
        RAISE EXCEPTION 'no checkpoint at seq % anchors the purge', p_upto;
    END IF;
    DELETE FROM audit_events WHERE org_id = p_org AND seq <= p_upto;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION loki_audit_purge(uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loki_audit_purge(uuid, bigint) TO loki_app;

-- Maintenance jobs (retention) need the list of organizations, which RLS
-- hides from the daemon's role: ids only, nothing else.
CREATE FUNCTION loki_org_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT id FROM organizations WHERE status <> 'deleted' $$;
REVOKE ALL ON FUNCTION loki_org_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loki_org_ids() TO loki_app;
