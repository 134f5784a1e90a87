-- Webhooks: where a tenant's events are pushed. Each one is delivered by the view
-- "webhook.<locator>": its position, lease and failed (diverted) events are that view's.
CREATE TABLE webhooks (
    tenant_key   INTEGER NOT NULL,
    locator      TEXT NOT NULL,
    definition   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    suspended_at INTEGER,
    PRIMARY KEY (tenant_key, locator)
) WITHOUT ROWID;
