-- Webhooks: where a tenant's events are pushed. Each one is delivered by the view
-- "webhook.<locator>": its position, lease and failed (diverted) events are that view's.
CREATE TABLE webhooks (
    tenant_key   integer NOT NULL,
    locator      text NOT NULL,
    definition   text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    suspended_at timestamptz,
    PRIMARY KEY (tenant_key, locator)
);
