-- One append of several events without client-chosen locators whose type names are already
-- recorded (a group of one such append), written by one set-based INSERT: no loop, no array
-- assignments. The events come as one JSON document of columns, one entry per event in
-- order (the driver writes it much faster than a score of arrays):
--   "a" aggregate types, "i" aggregate ids, "l" locators, "o" resource owners, "t" types,
--   "r" revisions, "p" payloads, and only when some event has one: "c" correlation ids,
--   "k" causation ids, "m" metadata (null where an event has none);
--   "xa", "xi", "xv" the expected versions (-1: it must exist), when there are any.
-- The lock is its own statement, so that the INSERT's snapshot, taken after it, sees the
-- head that the last holder committed. The INSERT numbers the events from the head and
-- each aggregate's events on from its last version (a running count in event order), only
-- when every expected version holds. One row comes back: the first sequence, the events'
-- versions and the creation date, or (sequence NULL) the first expectation that failed:
-- aggregate type and id, expected version, current version.
CREATE FUNCTION chronik_append_many(
    p_tenant integer, p_request_id text, p_editor_user_id text, p_editor_service text,
    p_events jsonb
) RETURNS TABLE (
    r_first_sequence bigint, r_versions integer[], r_created_at timestamptz,
    r_aggregate_type text, r_aggregate_id text, r_expected integer, r_current integer
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7283915641);
    WITH e AS (
        SELECT * FROM ROWS FROM (
            jsonb_array_elements_text(p_events -> 'a'), jsonb_array_elements_text(p_events -> 'i'),
            jsonb_array_elements_text(p_events -> 'l'), jsonb_array_elements_text(p_events -> 'o'),
            jsonb_array_elements_text(p_events -> 't'), jsonb_array_elements_text(p_events -> 'r'),
            jsonb_array_elements(p_events -> 'p'), jsonb_array_elements_text(p_events -> 'c'),
            jsonb_array_elements_text(p_events -> 'k'), jsonb_array_elements(p_events -> 'm')
        ) WITH ORDINALITY AS e (aggregate_type, aggregate_id, locator, resource_owner, type,
                                revision, payload, correlation_id, causation_id, metadata, ord)
    ), x AS (
        SELECT x.aggregate_type, x.aggregate_id, x.version::integer AS version, x.ord
          FROM ROWS FROM (
              jsonb_array_elements_text(p_events -> 'xa'),
              jsonb_array_elements_text(p_events -> 'xi'),
              jsonb_array_elements_text(p_events -> 'xv')
          ) WITH ORDINALITY AS x (aggregate_type, aggregate_id, version, ord)
    ), g AS (
        SELECT a.aggregate_type, a.aggregate_id,
               coalesce((SELECT ev.aggregate_version FROM events ev
                          WHERE ev.tenant_key = p_tenant
                            AND ev.aggregate_type = a.aggregate_type
                            AND ev.aggregate_id = a.aggregate_id
                          ORDER BY ev.aggregate_version DESC LIMIT 1), 0) AS version
          FROM (SELECT e.aggregate_type, e.aggregate_id FROM e
                UNION SELECT x.aggregate_type, x.aggregate_id FROM x) a
    ), bad AS (
        SELECT x.aggregate_type, x.aggregate_id, x.version AS expected, g.version AS current
          FROM x JOIN g USING (aggregate_type, aggregate_id)
         WHERE g.version <> x.version AND (x.version <> -1 OR g.version = 0)
         ORDER BY x.ord LIMIT 1
    ), h AS (
        SELECT coalesce(l.sequence, 0) AS sequence,
               greatest(l.created_at, clock_timestamp()) AS created_at
          FROM (SELECT) one LEFT JOIN (SELECT ev.sequence, ev.created_at FROM events ev
                                        ORDER BY ev.sequence DESC LIMIT 1) l ON true
    ), w AS (
        INSERT INTO events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                            aggregate_version, resource_owner, type, revision, payload,
                            editor_user_id, editor_service, request_id, created_at,
                            correlation_id, causation_id, metadata)
        SELECT h.sequence + e.ord, p_tenant, e.locator, e.aggregate_type, e.aggregate_id,
               g.version + row_number() OVER (PARTITION BY e.aggregate_type, e.aggregate_id
                                              ORDER BY e.ord),
               e.resource_owner, e.type, e.revision::integer, e.payload, p_editor_user_id,
               p_editor_service, p_request_id, h.created_at, e.correlation_id,
               e.causation_id, nullif(e.metadata, 'null')
          FROM e JOIN g USING (aggregate_type, aggregate_id) CROSS JOIN h
         WHERE NOT EXISTS (SELECT FROM bad)
        RETURNING events.sequence, events.aggregate_version, events.created_at
    )
    SELECT min(w.sequence), array_agg(w.aggregate_version ORDER BY w.sequence),
           min(w.created_at), bad.aggregate_type, bad.aggregate_id, bad.expected, bad.current
      INTO r_first_sequence, r_versions, r_created_at, r_aggregate_type, r_aggregate_id,
           r_expected, r_current
      FROM (SELECT) one LEFT JOIN bad ON true LEFT JOIN w ON true
     GROUP BY bad.aggregate_type, bad.aggregate_id, bad.expected, bad.current;
    IF r_first_sequence IS NOT NULL THEN
        PERFORM pg_notify('chronik_events',
                          (r_first_sequence + cardinality(r_versions) - 1)::text);
    END IF;
    RETURN NEXT;
END;
$$;
