-- One append of several events without client-chosen locators whose type names are already
-- recorded (a group of one such append), written by one set-based INSERT: no loop, no array
-- assignments, no window. The caller numbers what only it needs to know: the aggregates the
-- append touches (each once, in its own order) and, for each event, which of them it
-- belongs to and how many of that aggregate's events of the append it is. All comes as one
-- JSON document of columns (the driver writes it much faster than a score of arrays):
--   "ga", "gi"  the aggregates' types and ids;
--   "g", "n"    for each event in order: its aggregate (1-based) and its place among that
--               aggregate's events of the append (1-based);
--   "l" locators, "o" resource owners, "t" types, "r" revisions, "p" payloads, and only
--   when some event has one: "c" correlation ids, "k" causation ids, "m" metadata (null
--   where an event has none);
--   "xg", "xv"  the expected versions (-1: it must exist) and their aggregates, if any.
-- The lock is its own statement, so that the INSERT's snapshot, taken after it, sees the
-- head that the last holder committed. The INSERT numbers the events on from the head and
-- each aggregate's from its last version, only when every expected version holds. One row
-- comes back: the first sequence (NULL when refused), the creation date, and the version of
-- each aggregate before the append, from which the caller tells the events' versions or
-- which expectation failed.
CREATE FUNCTION chronik_append_many(
    p_tenant integer, p_request_id text, p_editor_user_id text, p_editor_service text,
    p_events jsonb
) RETURNS TABLE (r_first_sequence bigint, r_created_at timestamptz, r_versions integer[])
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7283915641);
    WITH g AS (
        SELECT a.ord, a.aggregate_type, a.aggregate_id,
               coalesce((SELECT ev.aggregate_version FROM events ev
                          WHERE ev.tenant_key = p_tenant
                            AND ev.aggregate_type = a.aggregate_type
                            AND ev.aggregate_id = a.aggregate_id
                          ORDER BY ev.aggregate_version DESC LIMIT 1), 0) AS version
          FROM ROWS FROM (jsonb_array_elements_text(p_events -> 'ga'),
                          jsonb_array_elements_text(p_events -> 'gi'))
               WITH ORDINALITY AS a (aggregate_type, aggregate_id, ord)
    ), refused AS (
        SELECT EXISTS (
            SELECT FROM ROWS FROM (jsonb_array_elements_text(p_events -> 'xg'),
                                   jsonb_array_elements_text(p_events -> 'xv'))
                        AS x (g, version)
              JOIN g ON g.ord = x.g::bigint
             WHERE g.version <> x.version::integer
               AND (x.version::integer <> -1 OR g.version = 0)
        ) AS refused
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
        SELECT h.sequence + e.ord, p_tenant, e.locator, g.aggregate_type, g.aggregate_id,
               g.version + e.n::integer, e.resource_owner, e.type, e.revision::integer,
               e.payload, p_editor_user_id, p_editor_service, p_request_id, h.created_at,
               e.correlation_id, e.causation_id, nullif(e.metadata, 'null')
          FROM ROWS FROM (
                   jsonb_array_elements_text(p_events -> 'g'),
                   jsonb_array_elements_text(p_events -> 'n'),
                   jsonb_array_elements_text(p_events -> 'l'),
                   jsonb_array_elements_text(p_events -> 'o'),
                   jsonb_array_elements_text(p_events -> 't'),
                   jsonb_array_elements_text(p_events -> 'r'),
                   jsonb_array_elements(p_events -> 'p'),
                   jsonb_array_elements_text(p_events -> 'c'),
                   jsonb_array_elements_text(p_events -> 'k'),
                   jsonb_array_elements(p_events -> 'm')
               ) WITH ORDINALITY AS e (g, n, locator, resource_owner, type, revision, payload,
                                       correlation_id, causation_id, metadata, ord)
          JOIN g ON g.ord = e.g::bigint
         CROSS JOIN h
         WHERE NOT (SELECT refused FROM refused)
    )
    SELECT CASE WHEN NOT refused.refused THEN h.sequence + 1 END, h.created_at,
           (SELECT array_agg(g.version ORDER BY g.ord) FROM g)
      INTO r_first_sequence, r_created_at, r_versions
      FROM h CROSS JOIN refused;
    IF r_first_sequence IS NOT NULL THEN
        PERFORM pg_notify('chronik_events',
                          (r_first_sequence + jsonb_array_length(p_events -> 'l') - 1)::text);
    END IF;
    RETURN NEXT;
END;
$$;
