-- Every SQL statement of the PostgreSQL backend, looked up by name.

-- name: migration_lock
SELECT pg_advisory_xact_lock(7283915640);

-- name: schema_table_exists
SELECT to_regclass('chronik_schema') IS NOT NULL;

-- name: schema_version
SELECT version FROM chronik_schema;

-- name: create_schema_table
CREATE TABLE IF NOT EXISTS chronik_schema (version integer NOT NULL);

-- name: set_schema_version
UPDATE chronik_schema SET version = %s;

-- name: insert_schema_version
INSERT INTO chronik_schema (version) VALUES (%s);

-- name: get_meta
SELECT value FROM chronik_meta WHERE key = %s;

-- name: insert_meta
INSERT INTO chronik_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING;

-- One group commit in one round trip; see migrations/0003_append_function.sql.
-- name: append
SELECT * FROM chronik_append(%s::jsonb);

-- One append of one event, no new names; see migrations/0010_lean_append.sql.
-- name: append_one
SELECT * FROM chronik_append_one(%s::integer, %s::text, %s::text, %s::text, %s::text, %s::text,
                                 %s::integer, %s::jsonb, %s::text, %s::text, %s::text, %s::text,
                                 %s::text, %s::jsonb, %s::integer);

-- One append of several events, no new names; see migrations/0011_append_many.sql.
-- name: append_many
SELECT * FROM chronik_append_many(%s::integer, %s::text, %s::text, %s::text, %s::jsonb);

-- name: listen_commits
LISTEN chronik_events;

-- name: head
SELECT coalesce(max(sequence), 0) FROM events WHERE tenant_key = %s;

-- name: events_by_locators
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at, correlation_id, causation_id, metadata
FROM events WHERE locator = ANY(%s::text[]) ORDER BY sequence;

-- name: names
SELECT name FROM event_names WHERE tenant_key = %s AND kind = %s ORDER BY name;

-- name: read_after_tenant
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at, correlation_id, causation_id, metadata
FROM events WHERE tenant_key = %s AND sequence > %s ORDER BY sequence LIMIT %s;

-- name: get_event
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at, correlation_id, causation_id, metadata
FROM events WHERE locator = %s AND tenant_key = %s;

-- name: events_of_request
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at, correlation_id, causation_id, metadata
FROM events WHERE request_id = %s AND tenant_key = %s ORDER BY sequence;

-- name: sequence_at_or_after
SELECT sequence FROM events WHERE tenant_key = %s AND created_at >= %s
ORDER BY created_at, sequence LIMIT 1;

-- name: sequence_after
SELECT sequence FROM events WHERE tenant_key = %s AND created_at > %s
ORDER BY created_at, sequence LIMIT 1;

-- name: tenant_key
SELECT key FROM tenants WHERE id = %s;

-- name: tenant_ids
SELECT key, id FROM tenants WHERE key = ANY(%s::integer[]);

-- name: insert_tenant
INSERT INTO tenants (id, name, created_at) VALUES (%s, %s, %s);

-- name: get_tenant
SELECT id, name, created_at FROM tenants WHERE id = %s OR name = %s;

-- name: list_tenants
SELECT id, name, created_at FROM tenants ORDER BY created_at, key;

-- The search is one template and fixed fragments: the backend picks fragments by the filter's
-- shape and binds every value as a parameter. {index}, {where} and {direction} are filled
-- only from the named fragments below (PostgreSQL needs no index hints).

-- name: search
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at, correlation_id, causation_id, metadata
FROM events {index}
WHERE tenant_key = %(tenant_key)s {where}
ORDER BY sequence {direction} LIMIT %(limit)s;

-- name: where_after
AND sequence > %(after)s

-- name: where_before
AND sequence < %(before)s

-- name: where_aggregate_id
AND aggregate_id = %(aggregate_id)s

-- name: where_correlation_id
AND correlation_id = %(correlation_id)s

-- name: where_event_type
AND type = %(event_type)s

-- name: where_event_types
AND type = ANY(%(event_types)s::text[])

-- name: where_aggregate_type
AND aggregate_type = %(aggregate_type)s

-- name: where_aggregate_types
AND aggregate_type = ANY(%(aggregate_types)s::text[])

-- name: where_editor
AND editor_user_id = %(editor_user_id)s

-- name: where_resource_owner
AND resource_owner = %(resource_owner)s

-- name: where_users_only
AND substr(aggregate_type, 1, 8) <> 'chronik.'

-- name: direction_asc
ASC

-- name: direction_desc
DESC

-- name: insert_token
INSERT INTO tokens (id, tenant_key, name, secret_hash, organisation_id, roles, created_at,
                    expires_at, revoked_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL);

-- name: token_by_hash
SELECT t.id, n.id, t.name, t.secret_hash, t.organisation_id, t.roles, t.created_at,
       t.expires_at, t.revoked_at
FROM tokens t JOIN tenants n ON n.key = t.tenant_key WHERE t.secret_hash = %s;

-- name: list_tokens
SELECT t.id, n.id, t.name, t.secret_hash, t.organisation_id, t.roles, t.created_at,
       t.expires_at, t.revoked_at
FROM tokens t JOIN tenants n ON n.key = t.tenant_key
WHERE t.tenant_key = %s ORDER BY t.created_at, t.id;

-- name: bootstrap_lock
-- Held while one process decides whether a tenant gets its first token (bootstrap).
SELECT pg_advisory_xact_lock(7283915642);

-- name: tenant_has_tokens
SELECT EXISTS (SELECT 1 FROM tokens WHERE tenant_key = %s);

-- name: revoke_token
UPDATE tokens SET revoked_at = %s WHERE id = %s AND tenant_key = %s AND revoked_at IS NULL;

-- name: view_insert
INSERT INTO view_positions (view, tenant_key, database) VALUES (%s, %s, %s)
ON CONFLICT (view, tenant_key) DO NOTHING;

-- name: view_claim
UPDATE view_positions SET owner = %(owner)s, lease_until = %(until)s, database = %(database)s
WHERE view = %(view)s AND tenant_key = %(tenant)s
  AND (owner IS NULL OR owner = %(owner)s OR lease_until < %(now)s)
RETURNING view, tenant_key, database, position, event_at, last_run, generation, paused,
          owner, lease_until;

-- name: view_release
UPDATE view_positions SET owner = NULL, lease_until = NULL
WHERE view = %s AND tenant_key = %s AND owner = %s;

-- name: view_rows
SELECT key, value::text FROM view_rows
WHERE view = %s AND tenant_key = %s AND key = ANY (%s);

-- name: view_advance
UPDATE view_positions
SET position = %(position)s, event_at = coalesce(%(event_at)s, event_at),
    last_run = %(now)s, lease_until = %(until)s
WHERE view = %(view)s AND tenant_key = %(tenant)s AND position = %(expected)s
  AND generation = %(generation)s AND owner = %(owner)s AND NOT paused
RETURNING database;

-- name: view_row_put
INSERT INTO view_rows (view, tenant_key, key, value) VALUES (%s, %s, %s, %s::jsonb)
ON CONFLICT (view, tenant_key, key) DO UPDATE SET value = excluded.value;

-- name: view_row_delete
DELETE FROM view_rows WHERE view = %s AND tenant_key = %s AND key = %s;

-- name: failed_upsert
INSERT INTO failed_events (view, tenant_key, sequence, database, failure_count, error,
                           first_failed, last_failed, retry_at)
VALUES (%(view)s, %(tenant)s, %(sequence)s, %(database)s, %(count)s, %(error)s, %(now)s,
        %(now)s, %(retry_at)s)
ON CONFLICT (tenant_key, view, sequence) DO UPDATE
SET failure_count = excluded.failure_count, error = excluded.error,
    last_failed = excluded.last_failed, retry_at = excluded.retry_at;

-- name: failed_resolve
DELETE FROM failed_events WHERE tenant_key = %s AND view = %s AND sequence = %s;

-- name: failed_pending
SELECT f.view, f.tenant_key, f.database, f.sequence, f.failure_count, f.error,
       f.first_failed, f.last_failed, f.retry_at
FROM failed_events f JOIN view_positions p ON p.view = f.view AND p.tenant_key = f.tenant_key
WHERE f.tenant_key = %s AND f.view = %s AND (f.sequence > p.position OR f.retry_at IS NOT NULL)
ORDER BY f.sequence;

-- name: failed_list
SELECT view, tenant_key, database, sequence, failure_count, error, first_failed,
       last_failed, retry_at
FROM failed_events
WHERE tenant_key = %(tenant)s AND (%(view)s::text IS NULL OR view = %(view)s)
  AND failure_count >= %(min_failures)s
  AND (view, sequence) > (%(after_view)s::text, %(after_sequence)s::bigint)
ORDER BY view, sequence
LIMIT %(limit)s;

-- name: failed_count
SELECT count(*) FROM failed_events WHERE tenant_key = %s AND view = %s;

-- name: failed_remove
DELETE FROM failed_events WHERE tenant_key = %s AND view = %s AND sequence = %s
RETURNING sequence;

-- name: view_skip_to
UPDATE view_positions SET position = %s WHERE tenant_key = %s AND view = %s AND position < %s;

-- name: failed_retry
UPDATE failed_events SET retry_at = %(at)s
WHERE tenant_key = %(tenant)s AND view = %(view)s
  AND (%(sequence)s::bigint IS NULL OR sequence = %(sequence)s);

-- name: view_states
SELECT view, tenant_key, database, position, event_at, last_run, generation, paused, owner,
       lease_until
FROM view_positions WHERE tenant_key = %s ORDER BY view;

-- name: view_state
SELECT view, tenant_key, database, position, event_at, last_run, generation, paused, owner,
       lease_until
FROM view_positions WHERE tenant_key = %s AND view = %s;

-- name: view_reset
UPDATE view_positions SET position = 0, event_at = NULL, generation = generation + 1
WHERE tenant_key = %s AND view = %s;

-- name: view_reset_failed
DELETE FROM failed_events WHERE tenant_key = %s AND view = %s;

-- name: view_reset_rows
DELETE FROM view_rows WHERE tenant_key = %s AND view = %s;

-- name: view_pause
UPDATE view_positions SET paused = %s WHERE tenant_key = %s AND view = %s;

-- name: schedule_insert
INSERT INTO schedules (tenant_key, grp, name, policy_locator, transaction_locator,
                       aggregate_type, event_type, payload, rule, misfire, next_fire_at,
                       paused, created_at, updated_at)
VALUES (%(tenant)s, %(grp)s, %(name)s, %(policy)s, %(transaction)s, %(aggregate_type)s, %(event_type)s, %(payload)s::jsonb,
        %(rule)s, %(misfire)s, %(next)s, %(paused)s, %(now)s, %(now)s);

-- name: schedule_replace
UPDATE schedules
SET policy_locator = %(policy)s, transaction_locator = %(transaction)s,
    aggregate_type = %(aggregate_type)s, event_type = %(event_type)s, payload = %(payload)s::jsonb,
    rule = %(rule)s, misfire = %(misfire)s, next_fire_at = %(next)s, paused = %(paused)s,
    fired = 0, missed = 0, error = false, owner = NULL, lease_until = NULL,
    updated_at = %(now)s
WHERE tenant_key = %(tenant)s AND grp = %(grp)s AND name = %(name)s;

-- The columns of a schedule, in the order the store reads them.
-- name: schedule_get
SELECT s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
       s.aggregate_type, s.event_type, s.payload::text, s.rule, s.misfire, s.next_fire_at, s.fired,
       s.missed, s.paused, s.error, s.owner, s.lease_until, s.created_at, s.updated_at
FROM schedules s WHERE s.tenant_key = %s AND s.grp = %s AND s.name = %s;

-- name: schedule_list
SELECT s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
       s.aggregate_type, s.event_type, s.payload::text, s.rule, s.misfire, s.next_fire_at, s.fired,
       s.missed, s.paused, s.error, s.owner, s.lease_until, s.created_at, s.updated_at
FROM schedules s
WHERE s.tenant_key = %(tenant)s AND (%(grp)s::text IS NULL OR s.grp = %(grp)s)
  AND (%(policy)s::text IS NULL OR s.policy_locator = %(policy)s)
ORDER BY s.grp, s.name LIMIT %(count)s OFFSET %(offset)s;

-- name: schedule_delete
DELETE FROM schedules WHERE tenant_key = %s AND grp = %s AND name = %s;

-- name: schedule_pause
UPDATE schedules SET paused = %s, updated_at = %s WHERE tenant_key = %s AND grp = %s AND name = %s;

-- name: schedule_resume_failed
UPDATE schedules SET error = false, paused = false, next_fire_at = %(now)s, owner = NULL,
                     lease_until = NULL, updated_at = %(now)s
WHERE tenant_key = %(tenant)s AND grp = %(grp)s AND name = %(name)s
  AND EXISTS (SELECT 1 FROM failed_jobs f WHERE f.tenant_key = %(tenant)s AND f.grp = %(grp)s
              AND f.name = %(name)s);

-- name: schedule_claim_due
WITH due AS (
    SELECT s.tenant_key, s.grp, s.name, s.owner AS previous,
           coalesce(f.failure_count, 0) AS failures
    FROM schedules s
    LEFT JOIN failed_jobs f ON f.tenant_key = s.tenant_key AND f.grp = s.grp AND f.name = s.name
    WHERE s.next_fire_at <= %(now)s AND NOT s.paused AND NOT s.error
      AND s.next_fire_at IS NOT NULL AND (s.owner IS NULL OR s.lease_until < %(now)s)
      AND s.tenant_key <> ALL (%(moved)s::integer[])
    ORDER BY s.next_fire_at LIMIT %(limit)s
    FOR UPDATE OF s SKIP LOCKED
)
UPDATE schedules s SET owner = %(owner)s, lease_until = %(until)s
FROM due
WHERE s.tenant_key = due.tenant_key AND s.grp = due.grp AND s.name = due.name
RETURNING s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
          s.aggregate_type, s.event_type, s.payload::text, s.rule, s.misfire,
          s.next_fire_at, s.fired, s.missed, s.paused, s.error, s.owner, s.lease_until,
          s.created_at, s.updated_at, due.previous, due.failures;

-- name: schedule_next_due
-- (A tenant moved out of this database fires from its new one. Its keys come as a parameter,
-- read just before: a subquery here would keep min() from reading the index's first entry.)
SELECT min(next_fire_at) FROM schedules
WHERE NOT paused AND NOT error AND next_fire_at IS NOT NULL
  AND tenant_key <> ALL (%s::integer[]);

-- The tenants moved out of this database (see migrations/0016_tenant_placement.sql).
-- name: tenants_moved
SELECT coalesce(array_agg(key), '{}') FROM tenants WHERE moved_to IS NOT NULL;

-- name: schedule_fired
UPDATE schedules
SET next_fire_at = %(next)s, fired = fired + %(fired)s, missed = missed + %(missed)s, owner = NULL,
    lease_until = NULL, updated_at = %(now)s
WHERE tenant_key = %(tenant)s AND grp = %(grp)s AND name = %(name)s AND owner = %(owner)s
RETURNING name;

-- name: schedule_failed
UPDATE schedules
SET next_fire_at = %(next)s, error = %(error)s, owner = NULL, lease_until = NULL, updated_at = %(now)s
WHERE tenant_key = %(tenant)s AND grp = %(grp)s AND name = %(name)s AND owner = %(owner)s
RETURNING name;

-- name: failed_job_upsert
INSERT INTO failed_jobs (tenant_key, grp, name, failure_count, state, error, created_at,
                         updated_at)
VALUES (%(tenant)s, %(grp)s, %(name)s, %(count)s, %(state)s, %(error)s, %(now)s, %(now)s)
ON CONFLICT (tenant_key, grp, name) DO UPDATE
SET failure_count = excluded.failure_count, state = excluded.state, error = excluded.error,
    updated_at = excluded.updated_at;

-- name: failed_job_delete
DELETE FROM failed_jobs WHERE tenant_key = %s AND grp = %s AND name = %s;

-- The failed jobs of the schedules a group of firings fired, in one statement.
-- name: failed_jobs_delete_fired
DELETE FROM failed_jobs f
USING unnest(%s::integer[], %s::text[], %s::text[]) AS d (tenant_key, grp, name)
WHERE f.tenant_key = d.tenant_key AND f.grp = d.grp AND f.name = d.name;

-- name: failed_job_list
SELECT f.tenant_key, f.grp, f.name, f.failure_count, f.state, f.error, f.created_at,
       f.updated_at, s.policy_locator
FROM failed_jobs f
LEFT JOIN schedules s ON s.tenant_key = f.tenant_key AND s.grp = f.grp AND s.name = f.name
WHERE f.tenant_key = %(tenant)s AND (%(state)s::text IS NULL OR f.state = %(state)s)
  AND (%(grp)s::text IS NULL OR f.grp = %(grp)s)
  AND (%(policy)s::text IS NULL OR s.policy_locator = %(policy)s)
ORDER BY f.grp, f.name LIMIT %(count)s OFFSET %(offset)s;

-- name: failed_job_counts
SELECT state, count(*) FROM failed_jobs WHERE tenant_key = %(tenant)s GROUP BY state;

-- A page of a tenant's schedules for a backup, each with its failed job, after a
-- (group, name) key.
-- name: schedule_export
SELECT s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
       s.aggregate_type, s.event_type, s.payload::text, s.rule, s.misfire, s.next_fire_at, s.fired,
       s.missed, s.paused, s.error, s.owner, s.lease_until, s.created_at, s.updated_at,
       f.failure_count, f.state, f.error, f.created_at, f.updated_at
FROM schedules s
LEFT JOIN failed_jobs f ON f.tenant_key = s.tenant_key AND f.grp = s.grp AND f.name = s.name
WHERE s.tenant_key = %(tenant)s AND (s.grp, s.name) > (%(grp)s::text, %(name)s::text)
ORDER BY s.grp, s.name LIMIT %(count)s;

-- A schedule from a backup, with its state; nothing when its (group, name) is taken.
-- name: schedule_restore
INSERT INTO schedules (tenant_key, grp, name, policy_locator, transaction_locator,
                       aggregate_type, event_type, payload, rule, misfire, next_fire_at,
                       fired, missed, paused, error, created_at, updated_at)
VALUES (%(tenant)s, %(grp)s, %(name)s, %(policy)s, %(transaction)s, %(aggregate_type)s,
        %(event_type)s, %(payload)s::jsonb, %(rule)s, %(misfire)s, %(next)s, %(fired)s,
        %(missed)s, %(paused)s, %(error)s, %(created)s, %(now)s)
ON CONFLICT (tenant_key, grp, name) DO NOTHING;

-- name: failed_job_restore
INSERT INTO failed_jobs (tenant_key, grp, name, failure_count, state, error, created_at,
                         updated_at)
VALUES (%(tenant)s, %(grp)s, %(name)s, %(count)s, %(state)s, %(error)s, %(created)s, %(updated)s)
ON CONFLICT (tenant_key, grp, name) DO UPDATE
SET failure_count = excluded.failure_count, state = excluded.state, error = excluded.error,
    created_at = excluded.created_at, updated_at = excluded.updated_at;

-- name: view_rows_prefix
SELECT key, value::text FROM view_rows
WHERE view = %s AND tenant_key = %s AND starts_with(key, %s)
ORDER BY key COLLATE "C";

-- name: view_rows_page
-- A page of a view's rows in the key range [low, high), leaving out the key "after" (the
-- last one of the page before), and the view's position: one statement, one snapshot; no
-- row at all when the view has no position.
SELECT p.position, r.key, r.value::text
FROM view_positions p
LEFT JOIN (
    SELECT key, value FROM view_rows
    WHERE view = %(view)s AND tenant_key = %(tenant)s AND key >= %(low)s AND key < %(high)s
      AND key IS DISTINCT FROM %(after)s
    ORDER BY key LIMIT %(limit)s
) r ON true
WHERE p.view = %(view)s AND p.tenant_key = %(tenant)s
ORDER BY r.key;

-- name: view_rows_page_to_end
-- view_rows_page with no upper bound (every key, or a prefix no key sorts above).
SELECT p.position, r.key, r.value::text
FROM view_positions p
LEFT JOIN (
    SELECT key, value FROM view_rows
    WHERE view = %(view)s AND tenant_key = %(tenant)s AND key >= %(low)s
      AND key IS DISTINCT FROM %(after)s
    ORDER BY key LIMIT %(limit)s
) r ON true
WHERE p.view = %(view)s AND p.tenant_key = %(tenant)s
ORDER BY r.key;

-- name: action_run_insert
INSERT INTO action_runs (tenant_key, id, organisation, action_id, action_name, flow_type,
    trigger_type, outcome, started_at, duration, error, event_sequence, event_locator,
    event_type, firing, logs, logs_dropped)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s);

-- name: action_runs
SELECT id, organisation, action_id, action_name, flow_type, trigger_type, outcome,
    started_at, duration, error, event_sequence, event_locator, event_type, firing,
    logs::text, logs_dropped
FROM action_runs
WHERE tenant_key = %(tenant)s
    AND (%(organisation)s::text IS NULL OR organisation = %(organisation)s)
    AND (%(action)s::text IS NULL OR action_id = %(action)s)
    AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s)
    AND (%(before)s::text IS NULL OR id < %(before)s)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: webhook_insert
INSERT INTO webhooks (tenant_key, locator, definition, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s);

-- A webhook's view starts at the head of the log when it is made: new events only.
-- name: view_start
INSERT INTO view_positions (view, tenant_key, database, position)
VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING;

-- name: webhook_get
SELECT locator, definition, created_at, updated_at, suspended_at
FROM webhooks WHERE tenant_key = %s AND locator = %s;

-- name: webhook_list
SELECT locator, definition, created_at, updated_at, suspended_at
FROM webhooks WHERE tenant_key = %s ORDER BY locator;

-- name: webhook_unsuspended
SELECT t.id, w.locator, w.definition, w.created_at, w.updated_at, w.suspended_at
FROM webhooks w JOIN tenants t ON t.key = w.tenant_key
WHERE w.suspended_at IS NULL ORDER BY w.tenant_key, w.locator;

-- name: webhook_replace
UPDATE webhooks SET definition = %s, updated_at = %s WHERE tenant_key = %s AND locator = %s;

-- name: webhook_suspend
UPDATE webhooks SET suspended_at = %s WHERE tenant_key = %s AND locator = %s;

-- name: webhook_delete
DELETE FROM webhooks WHERE tenant_key = %s AND locator = %s;

-- name: view_forget
DELETE FROM view_positions WHERE tenant_key = %s AND view = %s;

-- A delivery an operator resent failed again: the record says so, and stays.
-- name: failed_again
UPDATE failed_events SET failure_count = failure_count + 1, error = %s, last_failed = %s
WHERE tenant_key = %s AND view = %s AND sequence = %s;

-- name: group_insert
INSERT INTO consumer_groups (tenant_key, name, definition, created_at) VALUES (%s, %s, %s, %s);

-- name: group_get
SELECT name, definition, created_at FROM consumer_groups WHERE tenant_key = %s AND name = %s;

-- name: group_list
SELECT name, definition, created_at FROM consumer_groups WHERE tenant_key = %s ORDER BY name;

-- name: group_delete
DELETE FROM consumer_groups WHERE tenant_key = %s AND name = %s;

-- name: group_inflight_clear
DELETE FROM group_inflight WHERE tenant_key = %s AND grp = %s;

-- name: group_inflight_count
SELECT count(*) FROM group_inflight WHERE tenant_key = %s AND grp = %s;

-- In flight past its lease: to be handed out again (or parked).
-- name: group_expired
SELECT sequence, deliveries FROM group_inflight
WHERE tenant_key = %s AND grp = %s AND lease_until < %s ORDER BY sequence LIMIT %s
FOR UPDATE SKIP LOCKED;

-- name: group_release
DELETE FROM group_inflight WHERE tenant_key = %s AND grp = %s AND sequence = %s
RETURNING deliveries;

-- name: group_lend
INSERT INTO group_inflight (tenant_key, grp, sequence, consumer, lease_until, deliveries)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_key, grp, sequence) DO UPDATE
SET consumer = excluded.consumer, lease_until = excluded.lease_until,
    deliveries = excluded.deliveries;

-- A group's failed events that are due: nacked to retry, or replayed by an operator.
-- name: group_due
SELECT sequence, failure_count FROM failed_events
WHERE tenant_key = %s AND view = %s AND retry_at <= %s ORDER BY sequence LIMIT %s
FOR UPDATE SKIP LOCKED;

-- A consumer group's read position moves by compare-and-set.
-- name: group_advance
UPDATE view_positions SET position = %s, last_run = %s
WHERE tenant_key = %s AND view = %s AND position = %s;
