-- Every SQL statement of the SQLite backend, looked up by name.

-- name: schema_version
SELECT version FROM chronik_schema;

-- name: create_schema_table
CREATE TABLE IF NOT EXISTS chronik_schema (version INTEGER NOT NULL);

-- name: set_schema_version
UPDATE chronik_schema SET version = ?;

-- name: insert_schema_version
INSERT INTO chronik_schema (version) VALUES (?);

-- name: get_meta
SELECT value FROM chronik_meta WHERE key = ?;

-- name: insert_meta
INSERT OR IGNORE INTO chronik_meta (key, value) VALUES (?, ?);

-- name: indexing_pass
-- An index pass (migration 0009): the pending events join the filter indexes.
UPDATE events SET pending = NULL WHERE id > (SELECT upto FROM event_index_position);

-- name: indexing_position
UPDATE event_index_position SET upto = (SELECT coalesce(max(id), 0) FROM events);

-- name: last_created_at
SELECT created_at FROM events ORDER BY id DESC LIMIT 1;

-- name: head
-- A tenant's last sequence: the indexed events' from the tenant index, the pending ones'
-- by a scan of the few after event_index_position.upto.
SELECT coalesce(max(h), 0) FROM (
    SELECT max(sequence) AS h FROM events INDEXED BY events_tenant
     WHERE pending IS NULL AND tenant_key = :tenant_key
    UNION ALL
    SELECT max(sequence) FROM events NOT INDEXED
     WHERE id > (SELECT upto FROM event_index_position) AND tenant_key = :tenant_key);

-- name: aggregate_version
SELECT max(aggregate_version) FROM events
WHERE tenant_key = ? AND aggregate_type = ? AND aggregate_id = ?;

-- name: events_by_locators
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at, correlation_id, causation_id, metadata
FROM events WHERE locator IN (SELECT value FROM json_each(?)) ORDER BY id;

-- name: insert_event
-- The last three come as '' when absent: Python's sqlite3 binds None through its adapter
-- lookup (half a microsecond per value), and most events have none of them.
INSERT INTO events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                    aggregate_version, resource_owner, type, revision, payload,
                    editor_user_id, editor_service, request_id, created_at, correlation_id,
                    causation_id, metadata, pending)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), NULLIF(?, ''),
        NULLIF(?, ''), 1);

-- name: insert_name
INSERT OR IGNORE INTO event_names (tenant_key, kind, name) VALUES (?, ?, ?);

-- name: names
SELECT name FROM event_names WHERE tenant_key = ? AND kind = ? ORDER BY name;

-- name: read_after_tenant
-- Indexed events from the tenant index, the pending ones after them by the primary key
-- (migration 0009): one statement, so one snapshot.
SELECT * FROM (SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
           resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
           created_at, correlation_id, causation_id, metadata
    FROM events INDEXED BY events_tenant
    WHERE pending IS NULL AND tenant_key = :tenant_key AND sequence > :after
    ORDER BY sequence LIMIT :limit)
UNION ALL
SELECT * FROM (SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
           resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
           created_at, correlation_id, causation_id, metadata
    FROM events NOT INDEXED
    WHERE id > (SELECT upto FROM event_index_position) AND sequence > :after
      AND tenant_key = :tenant_key
    ORDER BY sequence LIMIT :limit)
ORDER BY sequence LIMIT :limit;

-- name: get_event
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at, correlation_id, causation_id, metadata
FROM events WHERE locator = ? AND tenant_key = ?;

-- name: events_of_request
SELECT * FROM (SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
           resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
           created_at, correlation_id, causation_id, metadata
    FROM events INDEXED BY events_request
    WHERE pending IS NULL AND request_id = :request_id AND tenant_key = :tenant_key)
UNION ALL
SELECT * FROM (SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
           resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
           created_at, correlation_id, causation_id, metadata
    FROM events NOT INDEXED
    WHERE id > (SELECT upto FROM event_index_position)
      AND request_id = :request_id AND tenant_key = :tenant_key)
ORDER BY sequence;

-- name: sequence_at_or_after
-- A tenant's first indexed event created at or after a time, or its last indexed sequence + 1.
-- The writer never lets created_at go back (each commit takes at least the time of the one
-- before), and a tenant's sequences are dense, so a binary search over them finds it in ~20
-- probes of the tenant index: an index on created_at would cost every append one more B-tree
-- page (migration 0008 drops it). The pending events after them: sequence_at_pending.
WITH RECURSIVE probe(lo, hi) AS (
    SELECT 1, (SELECT coalesce(max(sequence), 0) FROM events INDEXED BY events_tenant
                WHERE pending IS NULL AND tenant_key = :tenant_key) + 1
    UNION ALL
    SELECT
        CASE WHEN (SELECT created_at FROM events INDEXED BY events_tenant
                    WHERE pending IS NULL AND tenant_key = :tenant_key
                      AND sequence = (lo + hi) / 2) >= :at
             THEN lo ELSE (lo + hi) / 2 + 1 END,
        CASE WHEN (SELECT created_at FROM events INDEXED BY events_tenant
                    WHERE pending IS NULL AND tenant_key = :tenant_key
                      AND sequence = (lo + hi) / 2) >= :at
             THEN (lo + hi) / 2 ELSE hi END
    FROM probe WHERE lo < hi
)
SELECT lo, (SELECT coalesce(max(sequence), 0) FROM events INDEXED BY events_tenant
            WHERE pending IS NULL AND tenant_key = :tenant_key) + 1
FROM probe WHERE lo >= hi;

-- name: sequence_after
-- As sequence_at_or_after, for the first event created after a time.
WITH RECURSIVE probe(lo, hi) AS (
    SELECT 1, (SELECT coalesce(max(sequence), 0) FROM events INDEXED BY events_tenant
                WHERE pending IS NULL AND tenant_key = :tenant_key) + 1
    UNION ALL
    SELECT
        CASE WHEN (SELECT created_at FROM events INDEXED BY events_tenant
                    WHERE pending IS NULL AND tenant_key = :tenant_key
                      AND sequence = (lo + hi) / 2) > :at
             THEN lo ELSE (lo + hi) / 2 + 1 END,
        CASE WHEN (SELECT created_at FROM events INDEXED BY events_tenant
                    WHERE pending IS NULL AND tenant_key = :tenant_key
                      AND sequence = (lo + hi) / 2) > :at
             THEN (lo + hi) / 2 ELSE hi END
    FROM probe WHERE lo < hi
)
SELECT lo, (SELECT coalesce(max(sequence), 0) FROM events INDEXED BY events_tenant
            WHERE pending IS NULL AND tenant_key = :tenant_key) + 1
FROM probe WHERE lo >= hi;

-- name: sequence_at_pending
-- The tenant's first pending event created at (:inclusive) or after a time.
SELECT sequence FROM events NOT INDEXED
 WHERE id > (SELECT upto FROM event_index_position) AND tenant_key = :tenant_key
   AND (created_at > :at OR (:inclusive AND created_at = :at))
 ORDER BY id LIMIT 1;

-- name: tenant_key
SELECT key FROM tenants WHERE id = ?;

-- name: tenant_id
SELECT id FROM tenants WHERE key = ?;

-- name: insert_tenant
INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?);

-- name: get_tenant
SELECT id, name, created_at FROM tenants WHERE id = ? OR name = ?;

-- name: list_tenants
SELECT id, name, created_at FROM tenants ORDER BY created_at, key;

-- The search is one template and fixed fragments: the backend picks fragments by the filter's
-- shape and binds every value as a parameter. {index}, {where} and {direction} are filled
-- only from the named fragments below.

-- name: search
-- One keyset scan of an index over the indexed events, one of the primary key over the
-- pending ones after them (migration 0009), merged: one statement, so one snapshot.
SELECT * FROM (SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
           resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
           created_at, correlation_id, causation_id, metadata
    FROM events {index}
    WHERE pending IS NULL AND tenant_key = :tenant_key {where}
    ORDER BY sequence {direction} LIMIT :limit)
UNION ALL
SELECT * FROM (SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
           resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
           created_at, correlation_id, causation_id, metadata
    FROM events NOT INDEXED
    WHERE id > (SELECT upto FROM event_index_position) AND tenant_key = :tenant_key
      {where}
    ORDER BY sequence {direction} LIMIT :limit)
ORDER BY sequence {direction} LIMIT :limit;

-- How many of a tenant's indexed events (at most :probe) have a value in a lead's column:
-- the search leads with the narrowest of a query's wider columns (storage/search.py).
-- name: probe_event_type
SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY events_type
  WHERE tenant_key = :tenant_key AND type = :value AND pending IS NULL LIMIT :probe);

-- name: probe_editor
SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY events_editor
  WHERE tenant_key = :tenant_key AND editor_user_id = :value AND pending IS NULL LIMIT :probe);

-- name: probe_resource_owner
SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY events_resource_owner
  WHERE tenant_key = :tenant_key AND resource_owner = :value AND pending IS NULL LIMIT :probe);

-- name: probe_aggregate_type
SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY events_aggregate_type
  WHERE tenant_key = :tenant_key AND aggregate_type = :value AND pending IS NULL LIMIT :probe);

-- name: index_aggregate_id
INDEXED BY events_aggregate_id

-- name: index_correlation_id
INDEXED BY events_correlation

-- name: index_event_type
INDEXED BY events_type

-- name: index_editor
INDEXED BY events_editor

-- name: index_resource_owner
INDEXED BY events_resource_owner

-- name: index_aggregate_type
INDEXED BY events_aggregate_type

-- name: index_none
INDEXED BY events_tenant

-- name: where_after
AND sequence > :after

-- name: where_before
AND sequence < :before

-- name: where_aggregate_id
AND aggregate_id = :aggregate_id

-- name: where_correlation_id
AND correlation_id = :correlation_id

-- name: where_event_type
AND type = :event_type

-- name: where_event_types
AND type IN (SELECT value FROM json_each(:event_types))

-- name: where_aggregate_type
AND aggregate_type = :aggregate_type

-- name: where_aggregate_types
AND aggregate_type IN (SELECT value FROM json_each(:aggregate_types))

-- name: where_editor
AND editor_user_id = :editor_user_id

-- name: where_resource_owner
AND resource_owner = :resource_owner

-- name: where_users_only
AND substr(aggregate_type, 1, 8) <> 'chronik.'

-- name: direction_asc
ASC

-- name: direction_desc
DESC

-- name: insert_token
INSERT INTO tokens (id, tenant_key, name, secret_hash, organisation_id, roles, created_at,
                    expires_at, revoked_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL);

-- name: token_by_hash
SELECT t.id, n.id, t.name, t.secret_hash, t.organisation_id, t.roles, t.created_at,
       t.expires_at, t.revoked_at
FROM tokens t JOIN tenants n ON n.key = t.tenant_key WHERE t.secret_hash = ?;

-- name: list_tokens
SELECT t.id, n.id, t.name, t.secret_hash, t.organisation_id, t.roles, t.created_at,
       t.expires_at, t.revoked_at
FROM tokens t JOIN tenants n ON n.key = t.tenant_key
WHERE t.tenant_key = ? ORDER BY t.created_at, t.id;

-- name: tenant_has_tokens
SELECT EXISTS (SELECT 1 FROM tokens WHERE tenant_key = ?);

-- name: revoke_token
UPDATE tokens SET revoked_at = ? WHERE id = ? AND tenant_key = ? AND revoked_at IS NULL;

-- name: view_insert
INSERT OR IGNORE INTO view_positions (view, tenant_key, database) VALUES (?, ?, ?);

-- name: view_claim
UPDATE view_positions SET owner = :owner, lease_until = :until, database = :database
WHERE view = :view AND tenant_key = :tenant
  AND (owner IS NULL OR owner = :owner OR lease_until < :now)
RETURNING view, tenant_key, database, position, event_at, last_run, generation, paused,
          owner, lease_until;

-- name: view_release
UPDATE view_positions SET owner = NULL, lease_until = NULL
WHERE view = ? AND tenant_key = ? AND owner = ?;

-- name: view_rows
SELECT key, value FROM view_rows
WHERE view = ? AND tenant_key = ? AND key IN (SELECT value FROM json_each(?));

-- name: view_advance
UPDATE view_positions
SET position = :position, event_at = coalesce(:event_at, event_at), last_run = :now,
    lease_until = :until
WHERE view = :view AND tenant_key = :tenant AND position = :expected
  AND generation = :generation AND owner = :owner AND paused = 0
RETURNING database;

-- name: view_row_put
INSERT INTO view_rows (view, tenant_key, key, value) VALUES (?, ?, ?, ?)
ON CONFLICT (view, tenant_key, key) DO UPDATE SET value = excluded.value;

-- name: view_row_delete
DELETE FROM view_rows WHERE view = ? AND tenant_key = ? AND key = ?;

-- name: failed_upsert
INSERT INTO failed_events (view, tenant_key, sequence, database, failure_count, error,
                           first_failed, last_failed, retry_at)
VALUES (:view, :tenant, :sequence, :database, :count, :error, :now, :now, :retry_at)
ON CONFLICT (tenant_key, view, sequence) DO UPDATE
SET failure_count = excluded.failure_count, error = excluded.error,
    last_failed = excluded.last_failed, retry_at = excluded.retry_at;

-- name: failed_resolve
DELETE FROM failed_events WHERE tenant_key = ? AND view = ? AND sequence = ?;

-- name: failed_pending
SELECT f.view, f.tenant_key, f.database, f.sequence, f.failure_count, f.error,
       f.first_failed, f.last_failed, f.retry_at
FROM failed_events f JOIN view_positions p ON p.view = f.view AND p.tenant_key = f.tenant_key
WHERE f.tenant_key = ? AND f.view = ? AND (f.sequence > p.position OR f.retry_at IS NOT NULL)
ORDER BY f.sequence;

-- name: failed_list
SELECT view, tenant_key, database, sequence, failure_count, error, first_failed,
       last_failed, retry_at
FROM failed_events
WHERE tenant_key = :tenant AND (:view IS NULL OR view = :view)
  AND failure_count >= :min_failures AND (view, sequence) > (:after_view, :after_sequence)
ORDER BY view, sequence
LIMIT :limit;

-- name: failed_count
SELECT count(*) FROM failed_events WHERE tenant_key = ? AND view = ?;

-- name: failed_remove
DELETE FROM failed_events WHERE tenant_key = ? AND view = ? AND sequence = ?
RETURNING sequence;

-- name: view_skip_to
UPDATE view_positions SET position = ? WHERE tenant_key = ? AND view = ? AND position < ?;

-- name: failed_retry
UPDATE failed_events SET retry_at = :at
WHERE tenant_key = :tenant AND view = :view AND (:sequence IS NULL OR sequence = :sequence);

-- name: view_states
SELECT view, tenant_key, database, position, event_at, last_run, generation, paused, owner,
       lease_until
FROM view_positions WHERE tenant_key = ? ORDER BY view;

-- name: view_state
SELECT view, tenant_key, database, position, event_at, last_run, generation, paused, owner,
       lease_until
FROM view_positions WHERE tenant_key = ? AND view = ?;

-- name: view_reset
UPDATE view_positions SET position = 0, event_at = NULL, generation = generation + 1
WHERE tenant_key = ? AND view = ?;

-- name: view_reset_failed
DELETE FROM failed_events WHERE tenant_key = ? AND view = ?;

-- name: view_reset_rows
DELETE FROM view_rows WHERE tenant_key = ? AND view = ?;

-- name: view_pause
UPDATE view_positions SET paused = ? WHERE tenant_key = ? AND view = ?;

-- name: schedule_insert
INSERT INTO schedules (tenant_key, grp, name, policy_locator, transaction_locator,
                       aggregate_type, event_type, payload, rule, misfire, next_fire_at,
                       paused, created_at, updated_at)
VALUES (:tenant, :grp, :name, :policy, :transaction, :aggregate_type, :event_type, :payload,
        :rule, :misfire, :next, :paused, :now, :now);

-- name: schedule_replace
UPDATE schedules
SET policy_locator = :policy, transaction_locator = :transaction,
    aggregate_type = :aggregate_type, event_type = :event_type, payload = :payload,
    rule = :rule, misfire = :misfire, next_fire_at = :next, paused = :paused,
    fired = 0, missed = 0, error = 0, owner = NULL, lease_until = NULL, updated_at = :now
WHERE tenant_key = :tenant AND grp = :grp AND name = :name;

-- The columns of a schedule, in the order the store reads them.
-- name: schedule_get
SELECT s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
       s.aggregate_type, s.event_type, s.payload, s.rule, s.misfire, s.next_fire_at, s.fired,
       s.missed, s.paused, s.error, s.owner, s.lease_until, s.created_at, s.updated_at
FROM schedules s WHERE s.tenant_key = ? AND s.grp = ? AND s.name = ?;

-- name: schedule_list
SELECT s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
       s.aggregate_type, s.event_type, s.payload, s.rule, s.misfire, s.next_fire_at, s.fired,
       s.missed, s.paused, s.error, s.owner, s.lease_until, s.created_at, s.updated_at
FROM schedules s
WHERE s.tenant_key = :tenant AND (:grp IS NULL OR s.grp = :grp)
  AND (:policy IS NULL OR s.policy_locator = :policy)
ORDER BY s.grp, s.name LIMIT :count OFFSET :offset;

-- name: schedule_delete
DELETE FROM schedules WHERE tenant_key = ? AND grp = ? AND name = ?;

-- name: schedule_pause
UPDATE schedules SET paused = ?, updated_at = ? WHERE tenant_key = ? AND grp = ? AND name = ?;

-- name: schedule_resume_failed
UPDATE schedules SET error = 0, paused = 0, next_fire_at = :now, owner = NULL,
                     lease_until = NULL, updated_at = :now
WHERE tenant_key = :tenant AND grp = :grp AND name = :name
  AND EXISTS (SELECT 1 FROM failed_jobs f WHERE f.tenant_key = :tenant AND f.grp = :grp
              AND f.name = :name);

-- name: schedule_due
SELECT s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
       s.aggregate_type, s.event_type, s.payload, s.rule, s.misfire, s.next_fire_at, s.fired,
       s.missed, s.paused, s.error, s.owner, s.lease_until, s.created_at, s.updated_at,
       coalesce(f.failure_count, 0)
FROM schedules s
LEFT JOIN failed_jobs f ON f.tenant_key = s.tenant_key AND f.grp = s.grp AND f.name = s.name
WHERE s.next_fire_at <= :now AND s.paused = 0 AND s.error = 0 AND s.next_fire_at IS NOT NULL
  AND (s.owner IS NULL OR s.lease_until < :now)
ORDER BY s.next_fire_at LIMIT :limit;

-- name: schedule_claim
UPDATE schedules SET owner = ?, lease_until = ? WHERE tenant_key = ? AND grp = ? AND name = ?;

-- name: schedule_next_due
SELECT min(next_fire_at) FROM schedules
WHERE paused = 0 AND error = 0 AND next_fire_at IS NOT NULL;

-- name: schedule_fired
UPDATE schedules
SET next_fire_at = :next, fired = fired + :fired, missed = missed + :missed, owner = NULL,
    lease_until = NULL, updated_at = :now
WHERE tenant_key = :tenant AND grp = :grp AND name = :name AND owner = :owner
RETURNING name;

-- name: schedule_failed
UPDATE schedules
SET next_fire_at = :next, error = :error, owner = NULL, lease_until = NULL, updated_at = :now
WHERE tenant_key = :tenant AND grp = :grp AND name = :name AND owner = :owner
RETURNING name;

-- name: failed_job_upsert
INSERT INTO failed_jobs (tenant_key, grp, name, failure_count, state, error, created_at,
                         updated_at)
VALUES (:tenant, :grp, :name, :count, :state, :error, :now, :now)
ON CONFLICT (tenant_key, grp, name) DO UPDATE
SET failure_count = excluded.failure_count, state = excluded.state, error = excluded.error,
    updated_at = excluded.updated_at;

-- name: failed_job_delete
DELETE FROM failed_jobs WHERE tenant_key = ? AND grp = ? AND name = ?;

-- name: failed_job_list
SELECT f.tenant_key, f.grp, f.name, f.failure_count, f.state, f.error, f.created_at,
       f.updated_at, s.policy_locator
FROM failed_jobs f
LEFT JOIN schedules s ON s.tenant_key = f.tenant_key AND s.grp = f.grp AND s.name = f.name
WHERE f.tenant_key = :tenant AND (:state IS NULL OR f.state = :state)
  AND (:grp IS NULL OR f.grp = :grp)
  AND (:policy IS NULL OR s.policy_locator = :policy)
ORDER BY f.grp, f.name LIMIT :count OFFSET :offset;

-- name: failed_job_counts
SELECT state, count(*) FROM failed_jobs WHERE tenant_key = :tenant GROUP BY state;

-- A page of a tenant's schedules for a backup, each with its failed job, after a
-- (group, name) key.
-- name: schedule_export
SELECT s.tenant_key, s.grp, s.name, s.policy_locator, s.transaction_locator,
       s.aggregate_type, s.event_type, s.payload, s.rule, s.misfire, s.next_fire_at, s.fired,
       s.missed, s.paused, s.error, s.owner, s.lease_until, s.created_at, s.updated_at,
       f.failure_count, f.state, f.error, f.created_at, f.updated_at
FROM schedules s
LEFT JOIN failed_jobs f ON f.tenant_key = s.tenant_key AND f.grp = s.grp AND f.name = s.name
WHERE s.tenant_key = :tenant AND (s.grp, s.name) > (:grp, :name)
ORDER BY s.grp, s.name LIMIT :count;

-- A schedule from a backup, with its state; nothing when its (group, name) is taken.
-- name: schedule_restore
INSERT INTO schedules (tenant_key, grp, name, policy_locator, transaction_locator,
                       aggregate_type, event_type, payload, rule, misfire, next_fire_at,
                       fired, missed, paused, error, created_at, updated_at)
VALUES (:tenant, :grp, :name, :policy, :transaction, :aggregate_type, :event_type, :payload,
        :rule, :misfire, :next, :fired, :missed, :paused, :error, :created, :now)
ON CONFLICT (tenant_key, grp, name) DO NOTHING;

-- name: failed_job_restore
INSERT INTO failed_jobs (tenant_key, grp, name, failure_count, state, error, created_at,
                         updated_at)
VALUES (:tenant, :grp, :name, :count, :state, :error, :created, :updated)
ON CONFLICT (tenant_key, grp, name) DO UPDATE
SET failure_count = excluded.failure_count, state = excluded.state, error = excluded.error,
    created_at = excluded.created_at, updated_at = excluded.updated_at;

-- name: view_rows_prefix
SELECT key, value FROM view_rows
WHERE view = ? AND tenant_key = ? AND substr(key, 1, length(?3)) = ?3
ORDER BY key;

-- name: view_rows_page
-- A page of a view's rows in the key range [low, high), leaving out the key "after" (the
-- last one of the page before), and the view's position: one statement, one snapshot; no
-- row at all when the view has no position.
SELECT p.position, r.key, r.value
FROM view_positions p
LEFT JOIN (
    SELECT key, value FROM view_rows
    WHERE view = :view AND tenant_key = :tenant AND key >= :low AND key < :high
      AND key IS NOT :after
    ORDER BY key LIMIT :limit
) r ON 1
WHERE p.view = :view AND p.tenant_key = :tenant
ORDER BY r.key;

-- name: view_rows_page_to_end
-- view_rows_page with no upper bound (every key, or a prefix no key sorts above).
SELECT p.position, r.key, r.value
FROM view_positions p
LEFT JOIN (
    SELECT key, value FROM view_rows
    WHERE view = :view AND tenant_key = :tenant AND key >= :low AND key IS NOT :after
    ORDER BY key LIMIT :limit
) r ON 1
WHERE p.view = :view AND p.tenant_key = :tenant
ORDER BY r.key;

-- name: action_run_insert
INSERT INTO action_runs (tenant_key, id, organisation, action_id, action_name, flow_type,
    trigger_type, outcome, started_at, duration, error, event_sequence, event_locator,
    event_type, firing, logs, logs_dropped)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: action_runs
SELECT id, organisation, action_id, action_name, flow_type, trigger_type, outcome,
    started_at, duration, error, event_sequence, event_locator, event_type, firing, logs,
    logs_dropped
FROM action_runs
WHERE tenant_key = :tenant AND (:organisation IS NULL OR organisation = :organisation)
    AND (:action IS NULL OR action_id = :action)
    AND (:outcome IS NULL OR outcome = :outcome) AND (:before IS NULL OR id < :before)
ORDER BY id DESC
LIMIT :limit;

-- name: webhook_insert
INSERT INTO webhooks (tenant_key, locator, definition, created_at, updated_at)
VALUES (?, ?, ?, ?, ?);

-- A webhook's view starts at the head of the log when it is made: new events only.
-- name: view_start
INSERT OR IGNORE INTO view_positions (view, tenant_key, database, position)
VALUES (?, ?, ?, ?);

-- name: webhook_get
SELECT locator, definition, created_at, updated_at, suspended_at
FROM webhooks WHERE tenant_key = ? AND locator = ?;

-- name: webhook_list
SELECT locator, definition, created_at, updated_at, suspended_at
FROM webhooks WHERE tenant_key = ? ORDER BY locator;

-- name: webhook_unsuspended
SELECT t.id, w.locator, w.definition, w.created_at, w.updated_at, w.suspended_at
FROM webhooks w JOIN tenants t ON t.key = w.tenant_key
WHERE w.suspended_at IS NULL ORDER BY w.tenant_key, w.locator;

-- name: webhook_replace
UPDATE webhooks SET definition = ?, updated_at = ? WHERE tenant_key = ? AND locator = ?;

-- name: webhook_suspend
UPDATE webhooks SET suspended_at = ? WHERE tenant_key = ? AND locator = ?;

-- name: webhook_delete
DELETE FROM webhooks WHERE tenant_key = ? AND locator = ?;

-- name: view_forget
DELETE FROM view_positions WHERE tenant_key = ? AND view = ?;

-- A delivery an operator resent failed again: the record says so, and stays.
-- name: failed_again
UPDATE failed_events SET failure_count = failure_count + 1, error = ?, last_failed = ?
WHERE tenant_key = ? AND view = ? AND sequence = ?;

-- name: group_insert
INSERT INTO consumer_groups (tenant_key, name, definition, created_at) VALUES (?, ?, ?, ?);

-- name: group_get
SELECT name, definition, created_at FROM consumer_groups WHERE tenant_key = ? AND name = ?;

-- name: group_list
SELECT name, definition, created_at FROM consumer_groups WHERE tenant_key = ? ORDER BY name;

-- name: group_delete
DELETE FROM consumer_groups WHERE tenant_key = ? AND name = ?;

-- name: group_inflight_clear
DELETE FROM group_inflight WHERE tenant_key = ? AND grp = ?;

-- name: group_inflight_count
SELECT count(*) FROM group_inflight WHERE tenant_key = ? AND grp = ?;

-- In flight past its lease: to be handed out again (or parked).
-- name: group_expired
SELECT sequence, deliveries FROM group_inflight
WHERE tenant_key = ? AND grp = ? AND lease_until < ? ORDER BY sequence LIMIT ?;

-- name: group_release
DELETE FROM group_inflight WHERE tenant_key = ? AND grp = ? AND sequence = ?
RETURNING deliveries;

-- name: group_lend
INSERT INTO group_inflight (tenant_key, grp, sequence, consumer, lease_until, deliveries)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_key, grp, sequence) DO UPDATE
SET consumer = excluded.consumer, lease_until = excluded.lease_until,
    deliveries = excluded.deliveries;

-- A group's failed events that are due: nacked to retry, or replayed by an operator.
-- name: group_due
SELECT sequence, failure_count FROM failed_events
WHERE tenant_key = ? AND view = ? AND retry_at <= ? ORDER BY sequence LIMIT ?;

-- A consumer group's read position moves by compare-and-set.
-- name: group_advance
UPDATE view_positions SET position = ?, last_run = ?
WHERE tenant_key = ? AND view = ? AND position = ?;
