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
    created_at timestamptz NOT NULL
);

CREATE TABLE events (
    sequence          bigint PRIMARY KEY,
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
    created_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX events_locator ON events (locator);
CREATE UNIQUE INDEX events_aggregate ON events (tenant_key, aggregate_type, aggregate_id, aggregate_version);
CREATE INDEX events_tenant ON events (tenant_key, sequence);
CREATE INDEX events_type ON events (tenant_key, type, sequence);
CREATE INDEX events_aggregate_type ON events (tenant_key, aggregate_type, sequence);
CREATE INDEX events_aggregate_id ON events (tenant_key, aggregate_id, sequence);
CREATE INDEX events_editor ON events (tenant_key, editor_user_id, sequence);
CREATE INDEX events_resource_owner ON events (tenant_key, resource_owner, sequence);
CREATE INDEX events_request ON events (request_id);
CREATE INDEX events_created_at ON events (created_at, sequence);

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
-- the head, decides each append (a retry, a taken locator, a version conflict, or new
-- events) and inserts, all in the caller's autocommit transaction. Appends are given as
-- parallel arrays: a_* one entry per append, e_* one per event (the appends' events one
-- after another, a_count of them each), x_* one per expected version (x_append is the
-- append's 1-based number), n_* the event and aggregate names to record if the append of
-- n_append is written. One row comes back per append, in order:
-- ('written', first sequence, versions, creation date, ...), ('retry', ...),
-- ('locator_taken', ...) or ('conflict', ..., aggregate type and id, expected, current).
CREATE FUNCTION chronik_append(
    a_tenant integer[], a_request_id text[], a_editor_user_id text[],
    a_editor_service text[], a_client_locators boolean[], a_count integer[],
    e_locator text[], e_aggregate_type text[], e_aggregate_id text[], e_resource_owner text[],
    e_type text[], e_revision integer[], e_payload text[],
    x_append integer[], x_aggregate_type text[], x_aggregate_id text[], x_version integer[],
    n_append integer[], n_kind text[], n_name text[]
) RETURNS TABLE (
    r_status text, r_first_sequence bigint, r_versions integer[], r_created_at timestamptz,
    r_aggregate_type text, r_aggregate_id text, r_expected integer, r_current integer
)
LANGUAGE plpgsql AS $$
DECLARE
    v_sequence bigint;
    v_created_at timestamptz;
    v_written boolean[] := '{}';
    v_first integer := 1;
    v_last integer;
    v_found bigint;
    v_same bigint;
    v_current integer;
    v_versions integer[];
    v_conflict boolean;
    i integer;
    j integer;
BEGIN
    PERFORM pg_advisory_xact_lock(7283915641);
    SELECT ev.sequence, greatest(ev.created_at, clock_timestamp())
      INTO v_sequence, v_created_at
      FROM events ev ORDER BY ev.sequence DESC LIMIT 1;
    v_sequence := coalesce(v_sequence, 0);
    v_created_at := coalesce(v_created_at, clock_timestamp());

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

        IF r_status IS NULL THEN
            v_conflict := false;
            FOR j IN 1 .. coalesce(array_length(x_append, 1), 0) LOOP
                CONTINUE WHEN x_append[j] <> i;
                SELECT coalesce(max(ev.aggregate_version), 0) INTO v_current
                  FROM events ev
                 WHERE ev.tenant_key = a_tenant[i] AND ev.aggregate_type = x_aggregate_type[j]
                   AND ev.aggregate_id = x_aggregate_id[j];
                IF v_current <> x_version[j] THEN
                    r_status := 'conflict';
                    r_aggregate_type := x_aggregate_type[j];
                    r_aggregate_id := x_aggregate_id[j];
                    r_expected := x_version[j];
                    r_current := v_current;
                    EXIT;
                END IF;
            END LOOP;
        END IF;

        IF r_status IS NULL THEN
            SELECT array_agg(
                       coalesce((SELECT ev.aggregate_version FROM events ev
                                  WHERE ev.tenant_key = a_tenant[i]
                                    AND ev.aggregate_type = n.aggregate_type
                                    AND ev.aggregate_id = n.aggregate_id
                                  ORDER BY ev.aggregate_version DESC LIMIT 1), 0)
                       + n.step ORDER BY n.ord)
              INTO v_versions
              FROM (SELECT u.aggregate_type, u.aggregate_id, u.ord,
                           row_number() OVER (PARTITION BY u.aggregate_type, u.aggregate_id
                                              ORDER BY u.ord)::integer AS step
                      FROM unnest(e_aggregate_type[v_first:v_last],
                                  e_aggregate_id[v_first:v_last]) WITH ORDINALITY
                           AS u (aggregate_type, aggregate_id, ord)) AS n;
            INSERT INTO events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                                aggregate_version, resource_owner, type, revision, payload,
                                editor_user_id, editor_service, request_id, created_at)
            SELECT v_sequence + u.ord, a_tenant[i], u.locator, u.aggregate_type, u.aggregate_id,
                   u.version, u.resource_owner, u.type, u.revision, u.payload::jsonb,
                   a_editor_user_id[i], a_editor_service[i], a_request_id[i], v_created_at
              FROM unnest(e_locator[v_first:v_last], e_aggregate_type[v_first:v_last],
                          e_aggregate_id[v_first:v_last], v_versions,
                          e_resource_owner[v_first:v_last], e_type[v_first:v_last],
                          e_revision[v_first:v_last], e_payload[v_first:v_last])
                   WITH ORDINALITY
                   AS u (locator, aggregate_type, aggregate_id, version, resource_owner, type,
                         revision, payload, ord);
            r_status := 'written';
            r_first_sequence := v_sequence + 1;
            r_versions := v_versions;
            r_created_at := v_created_at;
            v_sequence := v_sequence + a_count[i];
            v_written[i] := true;
        END IF;

        RETURN NEXT;
        v_first := v_last + 1;
    END LOOP;

    IF true = ANY (v_written) THEN
        INSERT INTO event_names (tenant_key, kind, name)
        SELECT DISTINCT a_tenant[u.append], u.kind, u.name
          FROM unnest(n_append, n_kind, n_name) AS u (append, kind, name)
         WHERE v_written[u.append]
        ON CONFLICT DO NOTHING;
        PERFORM pg_notify('chronik_events', v_sequence::text);
    END IF;
END;
$$;
