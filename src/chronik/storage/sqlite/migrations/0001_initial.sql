-- The event log, tenants and the catalogue of names they use.
CREATE TABLE chronik_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE tenants (
    key        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE events (
    sequence          INTEGER PRIMARY KEY,
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
    created_at        INTEGER NOT NULL
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
CREATE INDEX events_created_at ON events (created_at);

CREATE TABLE event_names (
    tenant_key INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (tenant_key, kind, name)
) WITHOUT ROWID;
