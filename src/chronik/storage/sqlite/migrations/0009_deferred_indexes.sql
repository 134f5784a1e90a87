-- An append writes a page of every index on events, and each page costs the commit a WAL
-- frame: with ten B-trees a one-event append wrote 11.6 pages. Now an append writes the
-- table and its two unique indexes only (locator, aggregate version), and the filter indexes
-- below are partial and hold an event once an index pass, a later write transaction for up
-- to thousands of events at a time, has cleared its `pending` mark. Every event after
-- `event_index_position.upto` is pending and every one up to it is not, so a read takes
-- the indexed events from an index and the few after `upto` by a scan of the primary key,
-- in one statement (one snapshot). Events stored before this migration have no mark: they
-- are indexed as they were.
ALTER TABLE events ADD COLUMN pending INTEGER;

CREATE TABLE event_index_position (upto INTEGER NOT NULL);
INSERT INTO event_index_position SELECT coalesce(max(sequence), 0) FROM events;

DROP INDEX events_tenant;
DROP INDEX events_type;
DROP INDEX events_aggregate_type;
DROP INDEX events_aggregate_id;
DROP INDEX events_editor;
DROP INDEX events_resource_owner;
DROP INDEX events_request;
DROP INDEX events_correlation;
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
