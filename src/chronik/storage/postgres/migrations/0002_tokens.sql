-- Personal access tokens: only a hash of the bearer string is kept, and found by it.
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
