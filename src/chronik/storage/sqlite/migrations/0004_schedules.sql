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
