-- Sequences per tenant, as on PostgreSQL (its migration 0015): each tenant's events are
-- numbered 1, 2, 3… in commit order. The old global number stays as `id`, the order of
-- commits across tenants, which is what the deferred indexes (event_index_position.upto) and
-- the lookups by time need. Every stored position moves to the new numbers.
CREATE TABLE events_renumbered (
    id                INTEGER PRIMARY KEY,
    sequence          INTEGER NOT NULL,
    tenant_key        INTEGER NOT NULL,
    locator           TEXT NOT NULL,
    aggregate_type    TEXT NOT NULL,
    aggregate_id      TEXT NOT NULL,
    aggregate_version INTEGER NOT NULL,
    resource_owner    TEXT NOT NULL,
    type              TEXT NOT NULL,
    revision          INTEGER NOT NULL,
    payload           TEXT NOT NULL,
    editor_user_id    TEXT NOT NULL,
    editor_service    TEXT NOT NULL,
    request_id        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    correlation_id    TEXT,
    causation_id      TEXT,
    metadata          TEXT,
    pending           INTEGER
);
INSERT INTO events_renumbered
SELECT sequence, row_number() OVER (PARTITION BY tenant_key ORDER BY sequence), tenant_key,
       locator, aggregate_type, aggregate_id, aggregate_version, resource_owner, type,
       revision, payload, editor_user_id, editor_service, request_id, created_at,
       correlation_id, causation_id, metadata, pending
  FROM events ORDER BY sequence;
DROP TABLE events;
ALTER TABLE events_renumbered RENAME TO events;
CREATE UNIQUE INDEX events_locator ON events (locator);
CREATE UNIQUE INDEX events_aggregate ON events (tenant_key, aggregate_type, aggregate_id, aggregate_version);
CREATE INDEX events_tenant ON events (tenant_key, sequence) WHERE pending IS NULL;
CREATE INDEX events_type ON events (tenant_key, type, sequence) WHERE pending IS NULL;
CREATE INDEX events_aggregate_type ON events (tenant_key, aggregate_type, sequence)
    WHERE pending IS NULL;
CREATE INDEX events_aggregate_id ON events (tenant_key, aggregate_id, sequence)
    WHERE pending IS NULL;
CREATE INDEX events_editor ON events (tenant_key, editor_user_id, sequence)
    WHERE pending IS NULL;
CREATE INDEX events_resource_owner ON events (tenant_key, resource_owner, sequence)
    WHERE pending IS NULL;
CREATE INDEX events_request ON events (request_id) WHERE pending IS NULL;
CREATE INDEX events_correlation ON events (tenant_key, correlation_id, sequence)
    WHERE correlation_id IS NOT NULL AND pending IS NULL;

-- A position (the last event a view, webhook or group has taken, or a head it skipped to)
-- becomes the tenant's number of events up to it, and an event's own number maps one to one,
-- through negative numbers so that no row meets another's old number on the way.
UPDATE view_positions
   SET position = coalesce((SELECT e.sequence FROM events e
                             WHERE e.tenant_key = view_positions.tenant_key
                               AND e.id <= view_positions.position
                             ORDER BY e.id DESC LIMIT 1), 0);
UPDATE failed_events
   SET sequence = -(SELECT e.sequence FROM events e WHERE e.id = failed_events.sequence
                                                     AND e.tenant_key = failed_events.tenant_key)
 WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = failed_events.sequence
                                        AND e.tenant_key = failed_events.tenant_key);
DELETE FROM failed_events WHERE sequence > 0;
UPDATE failed_events SET sequence = -sequence;
UPDATE group_inflight
   SET sequence = -(SELECT e.sequence FROM events e WHERE e.id = group_inflight.sequence
                                                     AND e.tenant_key = group_inflight.tenant_key)
 WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = group_inflight.sequence
                                        AND e.tenant_key = group_inflight.tenant_key);
DELETE FROM group_inflight WHERE sequence > 0;
UPDATE group_inflight SET sequence = -sequence;
UPDATE action_runs
   SET event_sequence = (SELECT e.sequence FROM events e WHERE e.id = action_runs.event_sequence
                                                           AND e.tenant_key = action_runs.tenant_key)
 WHERE event_sequence IS NOT NULL;
