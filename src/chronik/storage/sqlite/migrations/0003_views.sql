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
