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
