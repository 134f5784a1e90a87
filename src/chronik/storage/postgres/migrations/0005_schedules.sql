-- Schedules (Quartz's triggers) and their failed jobs. "rule" is the time rule as JSON;
-- "owner" and "lease_until" are the claim of the node firing it.
CREATE TABLE schedules (
    tenant_key          integer NOT NULL,
    grp                 text NOT NULL,
    name                text NOT NULL,
    policy_locator      text,
    transaction_locator text,
    aggregate_type      text NOT NULL,
    event_type          text NOT NULL,
    payload             jsonb NOT NULL,
    rule                text NOT NULL,
    misfire             text NOT NULL,
    next_fire_at        timestamptz,
    fired               integer NOT NULL DEFAULT 0,
    missed              integer NOT NULL DEFAULT 0,
    paused              boolean NOT NULL DEFAULT false,
    error               boolean NOT NULL DEFAULT false,
    owner               text,
    lease_until         timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_key, grp, name)
);
CREATE INDEX schedules_due ON schedules (next_fire_at)
    WHERE NOT paused AND NOT error AND next_fire_at IS NOT NULL;
CREATE INDEX schedules_policy ON schedules (tenant_key, policy_locator)
    WHERE policy_locator IS NOT NULL;

CREATE TABLE failed_jobs (
    tenant_key    integer NOT NULL,
    grp           text NOT NULL,
    name          text NOT NULL,
    failure_count integer NOT NULL,
    state         text NOT NULL,
    error         text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_key, grp, name)
);
