-- Execution records of actions: one row per run, its log lines as a JSON array.
CREATE TABLE action_runs (
    tenant_key     integer NOT NULL,
    id             text NOT NULL,
    organisation   text NOT NULL,
    action_id      text NOT NULL,
    action_name    text NOT NULL,
    flow_type      text NOT NULL,
    trigger_type   text NOT NULL,
    outcome        text NOT NULL,
    started_at     timestamptz NOT NULL,
    duration       double precision NOT NULL,
    error          text NOT NULL,
    event_sequence bigint,
    event_locator  text,
    event_type     text NOT NULL,
    firing         text,
    logs           jsonb NOT NULL,
    logs_dropped   integer NOT NULL,
    PRIMARY KEY (tenant_key, id)
);
CREATE INDEX action_runs_action ON action_runs (tenant_key, action_id, id);
