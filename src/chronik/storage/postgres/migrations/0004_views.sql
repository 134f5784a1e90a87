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
    key        text NOT NULL,
    value      jsonb NOT NULL,
    PRIMARY KEY (view, tenant_key, key)
);
