-- Each event may carry a correlation id, a causation id and a metadata object, NULL when not
-- given, so that an event without them costs nothing more to write. Searching by correlation
-- id uses a partial index that holds only the events that have one.
ALTER TABLE events ADD COLUMN correlation_id TEXT;
ALTER TABLE events ADD COLUMN causation_id TEXT;
ALTER TABLE events ADD COLUMN metadata TEXT;
CREATE INDEX events_correlation ON events (tenant_key, correlation_id, sequence)
    WHERE correlation_id IS NOT NULL;
