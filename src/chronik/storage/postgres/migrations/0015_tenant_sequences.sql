-- Sequences per tenant: each tenant's events are numbered 1, 2, 3… in commit order, and an
-- append takes its tenant's lock and reads its tenant's head, so tenants no longer queue on
-- one lock (docs/explanation/scale.md). Every tenant's events keep their order; every stored
-- position moves to the new numbers.
--
-- The old and new numbers of every event, for the positions below.
CREATE TEMP TABLE chronik_renumbered ON COMMIT DROP AS
SELECT tenant_key, sequence AS old,
       row_number() OVER (PARTITION BY tenant_key ORDER BY sequence) AS new
  FROM events;
CREATE INDEX ON chronik_renumbered (tenant_key, old);

-- The events copied in the new numbering and the indexes built afterwards: 6.7 s per million
-- events where an UPDATE in place took 55 s (every index updated row by row).
CREATE TABLE events_renumbered (LIKE events INCLUDING DEFAULTS);
INSERT INTO events_renumbered
SELECT r.new, e.tenant_key, e.locator, e.aggregate_type, e.aggregate_id, e.aggregate_version,
       e.resource_owner, e.type, e.revision, e.payload, e.editor_user_id, e.editor_service,
       e.request_id, e.created_at, e.correlation_id, e.causation_id, e.metadata
  FROM events e JOIN chronik_renumbered r ON r.tenant_key = e.tenant_key AND r.old = e.sequence
 ORDER BY e.tenant_key, r.new;
DROP TABLE events;
ALTER TABLE events_renumbered RENAME TO events;
ALTER TABLE events ADD PRIMARY KEY (tenant_key, sequence);
CREATE UNIQUE INDEX events_locator ON events (locator);
CREATE UNIQUE INDEX events_aggregate ON events (tenant_key, aggregate_type, aggregate_id, aggregate_version);
CREATE INDEX events_type ON events (tenant_key, type, sequence);
CREATE INDEX events_aggregate_type ON events (tenant_key, aggregate_type, sequence);
CREATE INDEX events_aggregate_id ON events (tenant_key, aggregate_id, sequence);
CREATE INDEX events_editor ON events (tenant_key, editor_user_id, sequence);
CREATE INDEX events_resource_owner ON events (tenant_key, resource_owner, sequence);
CREATE INDEX events_request ON events (request_id);
CREATE INDEX events_created_at ON events (tenant_key, created_at, sequence);
CREATE INDEX events_correlation ON events (tenant_key, correlation_id, sequence)
    WHERE correlation_id IS NOT NULL;

-- A position (the last event a view, webhook or group has taken, or a head it skipped to)
-- becomes the tenant's number of events up to it.
UPDATE view_positions v
   SET position = coalesce((SELECT r.new FROM chronik_renumbered r
                             WHERE r.tenant_key = v.tenant_key AND r.old <= v.position
                             ORDER BY r.old DESC LIMIT 1), 0);
-- An event's own number maps one to one; through negative numbers, so that no row meets
-- another's old number on the way.
UPDATE failed_events f SET sequence = -r.new
  FROM chronik_renumbered r WHERE r.tenant_key = f.tenant_key AND r.old = f.sequence;
DELETE FROM failed_events WHERE sequence > 0;  -- of no stored event: cannot be retried
UPDATE failed_events SET sequence = -sequence;
UPDATE group_inflight g SET sequence = -r.new
  FROM chronik_renumbered r WHERE r.tenant_key = g.tenant_key AND r.old = g.sequence;
DELETE FROM group_inflight WHERE sequence > 0;
UPDATE group_inflight SET sequence = -sequence;
UPDATE action_runs a SET event_sequence = r.new
  FROM chronik_renumbered r WHERE r.tenant_key = a.tenant_key AND r.old = a.event_sequence;

CREATE OR REPLACE FUNCTION chronik_append(p_group jsonb) RETURNS TABLE (
    r_status text, r_first_sequence bigint, r_versions integer[], r_created_at timestamptz,
    r_aggregate_type text, r_aggregate_id text, r_expected integer, r_current integer
)
LANGUAGE plpgsql SET enable_sort = off AS $$
DECLARE
    a_tenant integer[];
    a_request_id text[];
    a_editor_user_id text[];
    a_editor_service text[];
    a_client_locators boolean[];
    a_count integer[];
    g_tenant integer[];
    g_aggregate_type text[];
    g_aggregate_id text[];
    x_append integer[];
    x_g integer[];
    x_version integer[];
    d_tenant integer[];
    d_sequence bigint[];
    d_created_at timestamptz[];
    v_d integer;
    v_t integer;
    v_current integer[];
    e_append integer[];
    e_g integer[];
    e_locator text[];
    e_resource_owner text[];
    e_type text[];
    e_revision integer[];
    e_payload jsonb[];
    e_correlation_id text[];
    e_causation_id text[];
    e_metadata jsonb[];
    v_events integer;
    v_expected integer;
    v_version integer[];
    v_event_sequence bigint[];
    v_written boolean[] := '{}';
    v_first integer := 1;
    v_last integer;
    v_x integer := 1;
    v_found bigint;
    v_same bigint;
    i integer;
    k integer;
BEGIN
    SELECT array_agg(a.t ORDER BY a.ord), array_agg(a.q ORDER BY a.ord),
           array_agg(a.u ORDER BY a.ord), array_agg(a.s ORDER BY a.ord),
           array_agg(a.c ORDER BY a.ord), array_agg(a.n ORDER BY a.ord)
      INTO a_tenant, a_request_id, a_editor_user_id, a_editor_service, a_client_locators,
           a_count
      FROM ROWS FROM (jsonb_to_recordset(p_group -> 'appends')
                      AS (t integer, q text, u text, s text, c boolean, n integer))
           WITH ORDINALITY AS a (t, q, u, s, c, n, ord);
    SELECT array_agg(g.t ORDER BY g.ord), array_agg(g.a ORDER BY g.ord),
           array_agg(g.i ORDER BY g.ord)
      INTO g_tenant, g_aggregate_type, g_aggregate_id
      FROM ROWS FROM (jsonb_to_recordset(p_group -> 'aggregates') AS (t integer, a text, i text))
           WITH ORDINALITY AS g (t, a, i, ord);
    SELECT array_agg(x.a ORDER BY x.ord), array_agg(x.g ORDER BY x.ord),
           array_agg(x.v ORDER BY x.ord)
      INTO x_append, x_g, x_version
      FROM ROWS FROM (jsonb_to_recordset(p_group -> 'expected')
                      AS (a integer, g integer, v integer))
           WITH ORDINALITY AS x (a, g, v, ord);
    v_expected := coalesce(array_length(x_append, 1), 0);
    SELECT coalesce(array_agg(e.a ORDER BY e.ord), '{}'), array_agg(e.g ORDER BY e.ord),
           array_agg(e.l ORDER BY e.ord), array_agg(e.o ORDER BY e.ord),
           array_agg(e.t ORDER BY e.ord), array_agg(e.r ORDER BY e.ord),
           array_agg(e.p ORDER BY e.ord), array_agg(e.c ORDER BY e.ord),
           array_agg(e.k ORDER BY e.ord), array_agg(e.m ORDER BY e.ord)
      INTO e_append, e_g, e_locator, e_resource_owner, e_type, e_revision, e_payload,
           e_correlation_id, e_causation_id, e_metadata
      FROM ROWS FROM (jsonb_to_recordset(p_group -> 'events')
                      AS (a integer, g integer, l text, o text, t text, r integer, p jsonb,
                          c text, k text, m jsonb))
           WITH ORDINALITY AS e (a, g, l, o, t, r, p, c, k, m, ord);

    -- Each tenant's lock, in ascending order (two groups never wait on each other), then
    -- each tenant's head, read after the locks so that it is the last holder's.
    SELECT array_agg(DISTINCT t ORDER BY t) INTO d_tenant FROM unnest(a_tenant) AS t;
    FOREACH v_t IN ARRAY d_tenant LOOP
        PERFORM pg_advisory_xact_lock(728391, v_t);
    END LOOP;
    SELECT array_agg(coalesce(h.sequence, 0) ORDER BY d.ord),
           array_agg(greatest(h.created_at, clock_timestamp()) ORDER BY d.ord)
      INTO d_sequence, d_created_at
      FROM unnest(d_tenant) WITH ORDINALITY AS d (tenant_key, ord)
      LEFT JOIN LATERAL (SELECT ev.sequence, ev.created_at FROM events ev
                          WHERE ev.tenant_key = d.tenant_key
                          ORDER BY ev.sequence DESC LIMIT 1) h ON true;
    SELECT array_agg(
               coalesce((SELECT ev.aggregate_version FROM events ev
                          WHERE ev.tenant_key = g.tenant_key
                            AND ev.aggregate_type = g.aggregate_type
                            AND ev.aggregate_id = g.aggregate_id
                          ORDER BY ev.aggregate_version DESC LIMIT 1), 0)
               ORDER BY g.ord)
      INTO v_current
      FROM unnest(g_tenant, g_aggregate_type, g_aggregate_id) WITH ORDINALITY
           AS g (tenant_key, aggregate_type, aggregate_id, ord);
    v_events := coalesce(array_length(e_append, 1), 0);
    v_version := array_fill(NULL::integer, ARRAY[v_events]);
    v_event_sequence := array_fill(NULL::bigint, ARRAY[v_events]);

    FOR i IN 1 .. coalesce(array_length(a_tenant, 1), 0) LOOP
        v_last := v_first + a_count[i] - 1;
        v_written[i] := false;
        r_status := NULL; r_first_sequence := NULL; r_versions := NULL; r_created_at := NULL;
        r_aggregate_type := NULL; r_aggregate_id := NULL; r_expected := NULL; r_current := NULL;

        IF a_client_locators[i] THEN
            SELECT count(*), count(*) FILTER (WHERE ev.tenant_key = a_tenant[i])
              INTO v_found, v_same
              FROM events ev WHERE ev.locator = ANY (e_locator[v_first:v_last]);
            IF v_found > 0 THEN
                r_status := CASE WHEN v_found = a_count[i] AND v_same = v_found
                                 THEN 'retry' ELSE 'locator_taken' END;
            END IF;
        END IF;

        WHILE v_x <= v_expected AND x_append[v_x] = i LOOP
            IF r_status IS NULL AND v_current[x_g[v_x]] <> x_version[v_x]
               AND (x_version[v_x] <> -1 OR v_current[x_g[v_x]] = 0) THEN
                r_status := 'conflict';
                r_aggregate_type := g_aggregate_type[x_g[v_x]];
                r_aggregate_id := g_aggregate_id[x_g[v_x]];
                r_expected := x_version[v_x];
                r_current := v_current[x_g[v_x]];
            END IF;
            v_x := v_x + 1;
        END LOOP;

        IF r_status IS NULL THEN
            v_d := array_position(d_tenant, a_tenant[i]);
            FOR k IN v_first .. v_last LOOP
                v_current[e_g[k]] := v_current[e_g[k]] + 1;
                v_version[k] := v_current[e_g[k]];
                d_sequence[v_d] := d_sequence[v_d] + 1;
                v_event_sequence[k] := d_sequence[v_d];
            END LOOP;
            r_status := 'written';
            r_first_sequence := v_event_sequence[v_first];
            r_versions := v_version[v_first:v_last];
            r_created_at := d_created_at[v_d];
            v_written[i] := true;
        END IF;

        RETURN NEXT;
        v_first := v_last + 1;
    END LOOP;

    IF true = ANY (v_written) THEN
        INSERT INTO events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                            aggregate_version, resource_owner, type, revision, payload,
                            editor_user_id, editor_service, request_id, created_at,
                            correlation_id, causation_id, metadata)
        SELECT u.sequence, a_tenant[u.append], u.locator, g_aggregate_type[u.g],
               g_aggregate_id[u.g], u.version, u.resource_owner, u.type, u.revision,
               u.payload, a_editor_user_id[u.append], a_editor_service[u.append],
               a_request_id[u.append], d_created_at[array_position(d_tenant, a_tenant[u.append])],
               u.correlation_id, u.causation_id,
               u.metadata
          FROM unnest(v_event_sequence, e_append, e_g, e_locator, v_version, e_resource_owner,
                      e_type, e_revision, e_payload, e_correlation_id, e_causation_id,
                      e_metadata)
               AS u (sequence, append, g, locator, version, resource_owner, type, revision,
                     payload, correlation_id, causation_id, metadata)
         WHERE u.sequence IS NOT NULL;
        INSERT INTO event_names (tenant_key, kind, name)
        SELECT DISTINCT a_tenant[u.a], u.k, u.n
          FROM jsonb_to_recordset(p_group -> 'names') AS u (a integer, k text, n text)
         WHERE v_written[u.a]
        ON CONFLICT DO NOTHING;
        PERFORM pg_notify('chronik_events', d.t || ':' || d.s)
           FROM unnest(d_tenant, d_sequence) AS d (t, s);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION chronik_append_one(
    p_tenant integer, p_locator text, p_aggregate_type text, p_aggregate_id text,
    p_resource_owner text, p_type text, p_revision integer, p_payload jsonb,
    p_editor_user_id text, p_editor_service text, p_request_id text,
    p_correlation_id text, p_causation_id text, p_metadata jsonb, p_expected integer
) RETURNS TABLE (r_sequence bigint, r_current integer, r_created_at timestamptz)
LANGUAGE plpgsql SET enable_sort = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(728391, p_tenant);
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
                             WHERE ev.tenant_key = p_tenant
                             ORDER BY ev.sequence DESC LIMIT 1) h ON true
         WHERE p_expected IS NULL OR c.version = p_expected
            OR (p_expected = -1 AND c.version > 0)
        RETURNING events.sequence, events.created_at,
                  pg_notify('chronik_events', p_tenant || ':' || events.sequence) AS notified
    )
    SELECT w.sequence, c.version, w.created_at FROM c LEFT JOIN w ON true;
END;
$$;

CREATE OR REPLACE FUNCTION chronik_append_many(
    p_tenant integer, p_request_id text, p_editor_user_id text, p_editor_service text,
    p_events jsonb
) RETURNS TABLE (r_first_sequence bigint, r_created_at timestamptz, r_versions integer[])
LANGUAGE plpgsql SET enable_sort = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(728391, p_tenant);
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
                                        WHERE ev.tenant_key = p_tenant
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
        PERFORM pg_notify('chronik_events', p_tenant || ':'
                          || (r_first_sequence + jsonb_array_length(p_events -> 'l') - 1));
    END IF;
    RETURN NEXT;
END;
$$;
