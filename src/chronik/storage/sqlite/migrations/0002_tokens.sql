-- Personal access tokens: only a hash of the bearer string is kept, and found by it.
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
