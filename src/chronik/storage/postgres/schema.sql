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
