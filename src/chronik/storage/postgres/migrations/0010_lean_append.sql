-- The commonest append, one event without a client-chosen locator whose type names are
-- already recorded, in one function of scalar arguments: no JSON to take apart, no loop.
-- The lock is its own statement, so that the INSERT's snapshot, taken after it, sees the
-- head that the last holder committed; the INSERT then computes the next sequence from the
-- head and the aggregate's next version from its last event, only when the expected version
-- (NULL: none; -1: it must exist) holds, and wakes the followers from its RETURNING list.
-- One row comes back: the sequence (NULL when refused), the aggregate's version before the
-- append, and the creation date.
CREATE FUNCTION chronik_append_one(
    p_tenant integer, p_locator text, p_aggregate_type text, p_aggregate_id text,
    p_resource_owner text, p_type text, p_revision integer, p_payload jsonb,
    p_editor_user_id text, p_editor_service text, p_request_id text,
    p_correlation_id text, p_causation_id text, p_metadata jsonb, p_expected integer
) RETURNS TABLE (r_sequence bigint, r_current integer, r_created_at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7283915641);
    RETURN QUERY
    WITH c AS (
        SELECT coalesce((SELECT ev.aggregate_version FROM events ev
                          WHERE ev.tenant_key = p_tenant
                            AND ev.aggregate_type = p_aggregate_type
                            AND ev.aggregate_id = p_aggregate_id
                          ORDER BY ev.aggregate_version DESC LIMIT 1), 0) AS version
    ), w AS (
        INSERT INTO events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                            aggregate_version, resource_owner, type, revision, payload,
                            editor_user_id, editor_service, request_id, created_at,
                            correlation_id, causation_id, metadata)
        SELECT coalesce(h.sequence, 0) + 1, p_tenant, p_locator, p_aggregate_type,
               p_aggregate_id, c.version + 1, p_resource_owner, p_type, p_revision, p_payload,
               p_editor_user_id, p_editor_service, p_request_id,
               greatest(h.created_at, clock_timestamp()), p_correlation_id, p_causation_id,
               p_metadata
          FROM c LEFT JOIN (SELECT ev.sequence, ev.created_at FROM events ev
                             ORDER BY ev.sequence DESC LIMIT 1) h ON true
         WHERE p_expected IS NULL OR c.version = p_expected
            OR (p_expected = -1 AND c.version > 0)
        RETURNING events.sequence, events.created_at,
                  pg_notify('chronik_events', events.sequence::text) AS notified
    )
    SELECT w.sequence, c.version, w.created_at FROM c LEFT JOIN w ON true;
END;
$$;
