-- The whole schema at the newest migration; tests check that the migrations produce it.
CREATE TABLE chronik_schema (version INTEGER NOT NULL);

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

-- `id` is the order of commits across tenants (the deferred indexes and time lookups use
-- it), and `sequence` numbers each tenant's events 1, 2, 3… (migration 0012).
CREATE TABLE "events" (
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
-- An append writes the table and its unique indexes; the partial filter indexes take an
-- event when an index pass clears its `pending` mark, and every event after
-- event_index_position.upto (an id) is still pending (migration 0009 says why).
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

CREATE TABLE event_index_position (upto INTEGER NOT NULL);
INSERT INTO event_index_position VALUES (0);

CREATE TABLE event_names (
    tenant_key INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (tenant_key, kind, name)
) WITHOUT ROWID;

CREATE TABLE tokens (
    id              TEXT PRIMARY KEY,
    tenant_key      INTEGER NOT NULL,
    name            TEXT NOT NULL,
    secret_hash     BLOB NOT NULL,
    organisation_id TEXT NOT NULL,
    roles           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    revoked_at      INTEGER
) WITHOUT ROWID;
CREATE UNIQUE INDEX tokens_secret ON tokens (secret_hash);
CREATE INDEX tokens_tenant ON tokens (tenant_key, created_at);

-- Views: where each view stands in each tenant's events, the events it failed to
-- process, and its own rows (JSON texts by key), written in the same transactions.
CREATE TABLE view_positions (
    view        TEXT NOT NULL,
    tenant_key  INTEGER NOT NULL,
    database    TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    event_at    INTEGER,
    last_run    INTEGER,
    generation  INTEGER NOT NULL DEFAULT 0,
    paused      INTEGER NOT NULL DEFAULT 0,
    owner       TEXT,
    lease_until INTEGER,
    PRIMARY KEY (view, tenant_key)
) WITHOUT ROWID;

CREATE TABLE failed_events (
    view          TEXT NOT NULL,
    tenant_key    INTEGER NOT NULL,
    sequence      INTEGER NOT NULL,
    database      TEXT NOT NULL,
    failure_count INTEGER NOT NULL,
    error         TEXT NOT NULL,
    first_failed  INTEGER NOT NULL,
    last_failed   INTEGER NOT NULL,
    retry_at      INTEGER,
    PRIMARY KEY (tenant_key, view, sequence)
) WITHOUT ROWID;

CREATE TABLE view_rows (
    view       TEXT NOT NULL,
    tenant_key INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (view, tenant_key, key)
) WITHOUT ROWID;

-- Schedules (Quartz's triggers) and their failed jobs. "rule" is the time rule as JSON;
-- "owner" and "lease_until" are the claim of the node firing it.
CREATE TABLE schedules (
    tenant_key          INTEGER NOT NULL,
    grp                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    policy_locator      TEXT,
    transaction_locator TEXT,
    aggregate_type      TEXT NOT NULL,
    event_type          TEXT NOT NULL,
    payload             TEXT NOT NULL,
    rule                TEXT NOT NULL,
    misfire             TEXT NOT NULL,
    next_fire_at        INTEGER,
    fired               INTEGER NOT NULL DEFAULT 0,
    missed              INTEGER NOT NULL DEFAULT 0,
    paused              INTEGER NOT NULL DEFAULT 0,
    error               INTEGER NOT NULL DEFAULT 0,
    owner               TEXT,
    lease_until         INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, grp, name)
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules (next_fire_at)
    WHERE paused = 0 AND error = 0 AND next_fire_at IS NOT NULL;
CREATE INDEX schedules_policy ON schedules (tenant_key, policy_locator)
    WHERE policy_locator IS NOT NULL;

CREATE TABLE failed_jobs (
    tenant_key    INTEGER NOT NULL,
    grp           TEXT NOT NULL,
    name          TEXT NOT NULL,
    failure_count INTEGER NOT NULL,
    state         TEXT NOT NULL,
    error         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, grp, name)
) WITHOUT ROWID;

-- Execution records of actions: one row per run, its log lines as a JSON array.
CREATE TABLE action_runs (
    tenant_key     INTEGER NOT NULL,
    id             TEXT NOT NULL,
    organisation   TEXT NOT NULL,
    action_id      TEXT NOT NULL,
    action_name    TEXT NOT NULL,
    flow_type      TEXT NOT NULL,
    trigger_type   TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    started_at     INTEGER NOT NULL,
    duration       REAL NOT NULL,
    error          TEXT NOT NULL,
    event_sequence INTEGER,
    event_locator  TEXT,
    event_type     TEXT NOT NULL,
    firing         TEXT,
    logs           TEXT NOT NULL,
    logs_dropped   INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, id)
) WITHOUT ROWID;
CREATE INDEX action_runs_action ON action_runs (tenant_key, action_id, id);

CREATE TABLE webhooks (
    tenant_key   INTEGER NOT NULL,
    locator      TEXT NOT NULL,
    definition   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    suspended_at INTEGER,
    PRIMARY KEY (tenant_key, locator)
) WITHOUT ROWID;

CREATE TABLE consumer_groups (
    tenant_key INTEGER NOT NULL,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, name)
) WITHOUT ROWID;
CREATE TABLE group_inflight (
    tenant_key  INTEGER NOT NULL,
    grp         TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    consumer    TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    deliveries  INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, grp, sequence)
) WITHOUT ROWID;
