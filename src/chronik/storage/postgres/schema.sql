-- The whole schema at the newest migration; tests check that the migrations produce it.
CREATE TABLE chronik_schema (version integer NOT NULL);

CREATE TABLE chronik_meta (
    key   text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE tenants (
    key        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    moved_to   text
);

CREATE TABLE events (
    sequence          bigint NOT NULL,
    tenant_key        integer NOT NULL,
    locator           text NOT NULL,
    aggregate_type    text NOT NULL,
    aggregate_id      text NOT NULL,
    aggregate_version integer NOT NULL,
    resource_owner    text NOT NULL,
    type              text NOT NULL,
    revision          integer NOT NULL,
    payload           jsonb NOT NULL,
    editor_user_id    text NOT NULL,
    editor_service    text NOT NULL,
    request_id        text NOT NULL,
    created_at        timestamptz NOT NULL,
    correlation_id    text,
    causation_id      text,
    metadata          jsonb,
    PRIMARY KEY (tenant_key, sequence)
);
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

CREATE TABLE event_names (
    tenant_key integer NOT NULL,
    kind       text NOT NULL,
    name       text NOT NULL,
    PRIMARY KEY (tenant_key, kind, name)
);

CREATE TABLE tokens (
    id              text PRIMARY KEY,
    tenant_key      integer NOT NULL,
    name            text NOT NULL,
    secret_hash     bytea NOT NULL,
    organisation_id text NOT NULL,
    roles           text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz,
    revoked_at      timestamptz
);
CREATE UNIQUE INDEX tokens_secret ON tokens (secret_hash);
CREATE INDEX tokens_tenant ON tokens (tenant_key, created_at);

-- A group of appends committed in one round trip: the function takes the append lock, reads
-- the head and the current version of every aggregate the group touches (one query),
-- decides each append in memory (a retry, a taken locator, a version conflict, or new
-- events), then inserts every accepted event with one INSERT, all in the caller's
-- autocommit transaction. The group comes as one JSON document (the driver writes one JSON
-- text much faster than a score of arrays; parsed once, as jsonb) of five arrays:
--   appends     {"t": tenant key, "q": request id, "u": editor user id, "s": editor
--               service, "c": whether the client chose the locators, "n": event count};
--   events      the appends' events one after another ("n" of them each): {"a": append
--               (1-based), "g": aggregate (1-based, in aggregates), "l": locator,
--               "o": resource owner, "t": type, "r": revision, "p": payload, and only
--               when given "c": correlation id, "k": causation id, "m": metadata};
--   aggregates  every distinct aggregate of the group: {"t": tenant key, "a": type, "i": id};
--   expected    expected versions in the order of the appends: {"a": append,
--               "g": aggregate, "v": version, or -1 for "it must exist"};
--   names       event and aggregate type names to record if their append is written:
--               {"a": append, "k": kind, "n": name}.
-- The caller keeps appends whose client-chosen locators repeat an earlier append's of the
-- same group for a later call. One row comes back per append, in order: ('written', first
-- sequence, versions, creation date), ('retry'), ('locator_taken') or ('conflict', ...,
-- aggregate type and id, expected version, current version).
CREATE FUNCTION chronik_append(p_group jsonb) RETURNS TABLE (
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

-- Views: where each view stands in each tenant's events, the events it failed to
-- process, and its own rows (JSON documents by key), written in the same transactions.
CREATE TABLE view_positions (
    view        text NOT NULL,
    tenant_key  integer NOT NULL,
    database    text NOT NULL,
    position    bigint NOT NULL DEFAULT 0,
    event_at    timestamptz,
    last_run    timestamptz,
    generation  integer NOT NULL DEFAULT 0,
    paused      boolean NOT NULL DEFAULT false,
    owner       text,
    lease_until timestamptz,
    PRIMARY KEY (view, tenant_key)
);

CREATE TABLE failed_events (
    view          text NOT NULL,
    tenant_key    integer NOT NULL,
    sequence      bigint NOT NULL,
    database      text NOT NULL,
    failure_count integer NOT NULL,
    error         text NOT NULL,
    first_failed  timestamptz NOT NULL,
    last_failed   timestamptz NOT NULL,
    retry_at      timestamptz,
    PRIMARY KEY (tenant_key, view, sequence)
);

CREATE TABLE view_rows (
    view       text NOT NULL,
    tenant_key integer NOT NULL,
    key        text COLLATE "C" NOT NULL,  -- by code point: prefixes are key ranges
    value      jsonb NOT NULL,
    PRIMARY KEY (view, tenant_key, key)
);

-- Schedules (Quartz's triggers) and their failed jobs. "rule" is the time rule as JSON;
-- "owner" and "lease_until" are the claim of the node firing it.
CREATE TABLE schedules (
    tenant_key          integer NOT NULL,
    grp                 text NOT NULL,
    name                text NOT NULL,
    policy_locator      text,
    transaction_locator text,
    aggregate_type      text NOT NULL,
    event_type          text NOT NULL,
    payload             jsonb NOT NULL,
    rule                text NOT NULL,
    misfire             text NOT NULL,
    next_fire_at        timestamptz,
    fired               integer NOT NULL DEFAULT 0,
    missed              integer NOT NULL DEFAULT 0,
    paused              boolean NOT NULL DEFAULT false,
    error               boolean NOT NULL DEFAULT false,
    owner               text,
    lease_until         timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_key, grp, name)
);
CREATE INDEX schedules_due ON schedules (next_fire_at)
    WHERE NOT paused AND NOT error AND next_fire_at IS NOT NULL;
CREATE INDEX schedules_policy ON schedules (tenant_key, policy_locator)
    WHERE policy_locator IS NOT NULL;

CREATE TABLE failed_jobs (
    tenant_key    integer NOT NULL,
    grp           text NOT NULL,
    name          text NOT NULL,
    failure_count integer NOT NULL,
    state         text NOT NULL,
    error         text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_key, grp, name)
);

-- Execution records of actions: one row per run, its log lines as a JSON array.
CREATE TABLE action_runs (
    tenant_key     integer NOT NULL,
    id             text NOT NULL,
    organisation   text NOT NULL,
    action_id      text NOT NULL,
    action_name    text NOT NULL,
    flow_type      text NOT NULL,
    trigger_type   text NOT NULL,
    outcome        text NOT NULL,
    started_at     timestamptz NOT NULL,
    duration       double precision NOT NULL,
    error          text NOT NULL,
    event_sequence bigint,
    event_locator  text,
    event_type     text NOT NULL,
    firing         text,
    logs           jsonb NOT NULL,
    logs_dropped   integer NOT NULL,
    PRIMARY KEY (tenant_key, id)
);
CREATE INDEX action_runs_action ON action_runs (tenant_key, action_id, id);

CREATE TABLE webhooks (
    tenant_key   integer NOT NULL,
    locator      text NOT NULL,
    definition   text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    suspended_at timestamptz,
    PRIMARY KEY (tenant_key, locator)
);

CREATE TABLE consumer_groups (
    tenant_key integer NOT NULL,
    name       text NOT NULL,
    definition text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_key, name)
);
CREATE TABLE group_inflight (
    tenant_key  integer NOT NULL,
    grp         text NOT NULL,
    sequence    bigint NOT NULL,
    consumer    text NOT NULL,
    lease_until timestamptz NOT NULL,
    deliveries  integer NOT NULL,
    PRIMARY KEY (tenant_key, grp, sequence)
);

CREATE INDEX tenants_moved ON tenants (key) WHERE moved_to IS NOT NULL;

CREATE TABLE tenant_placement (
    tenant_id text PRIMARY KEY,
    database  text NOT NULL,
    moving_to text,
    placed_at timestamptz NOT NULL
);

CREATE FUNCTION chronik_fence() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    v_key integer;
BEGIN
    IF current_setting('chronik.moving', true) = 'on' THEN
        RETURN NULL;
    END IF;
    FOR v_key IN SELECT DISTINCT f.tenant_key FROM fenced f LOOP
        PERFORM pg_advisory_xact_lock_shared(728392, v_key);
        IF EXISTS (SELECT 1 FROM tenants t WHERE t.key = v_key AND t.moved_to IS NOT NULL) THEN
            RAISE EXCEPTION 'tenant % has moved to another database', v_key
                USING ERRCODE = 'CH001';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_fence AFTER INSERT ON events
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER view_positions_fence_insert AFTER INSERT ON view_positions
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER view_positions_fence_update AFTER UPDATE ON view_positions
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER view_positions_fence_delete AFTER DELETE ON view_positions
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER failed_events_fence_insert AFTER INSERT ON failed_events
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER failed_events_fence_update AFTER UPDATE ON failed_events
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER failed_events_fence_delete AFTER DELETE ON failed_events
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER schedules_fence_insert AFTER INSERT ON schedules
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER schedules_fence_update AFTER UPDATE ON schedules
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER schedules_fence_delete AFTER DELETE ON schedules
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER failed_jobs_fence_insert AFTER INSERT ON failed_jobs
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER failed_jobs_fence_update AFTER UPDATE ON failed_jobs
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER failed_jobs_fence_delete AFTER DELETE ON failed_jobs
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER action_runs_fence_insert AFTER INSERT ON action_runs
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER action_runs_fence_update AFTER UPDATE ON action_runs
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER action_runs_fence_delete AFTER DELETE ON action_runs
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER webhooks_fence_insert AFTER INSERT ON webhooks
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER webhooks_fence_update AFTER UPDATE ON webhooks
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER webhooks_fence_delete AFTER DELETE ON webhooks
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER consumer_groups_fence_insert AFTER INSERT ON consumer_groups
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER consumer_groups_fence_update AFTER UPDATE ON consumer_groups
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER consumer_groups_fence_delete AFTER DELETE ON consumer_groups
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER group_inflight_fence_insert AFTER INSERT ON group_inflight
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER group_inflight_fence_update AFTER UPDATE ON group_inflight
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
CREATE TRIGGER group_inflight_fence_delete AFTER DELETE ON group_inflight
    REFERENCING OLD TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();
