-- Every SQL statement of the PostgreSQL backend, looked up by name.

-- name: migration_lock
SELECT pg_advisory_xact_lock(7283915640);

-- name: schema_table_exists
SELECT to_regclass('chronik_schema') IS NOT NULL;

-- name: schema_version
SELECT version FROM chronik_schema;

-- name: create_schema_table
CREATE TABLE IF NOT EXISTS chronik_schema (version integer NOT NULL);

-- name: set_schema_version
UPDATE chronik_schema SET version = %s;

-- name: insert_schema_version
INSERT INTO chronik_schema (version) VALUES (%s);

-- name: get_meta
SELECT value FROM chronik_meta WHERE key = %s;

-- name: insert_meta
INSERT INTO chronik_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING;

-- One group commit in one round trip; see migrations/0003_append_function.sql.
-- name: append
SELECT * FROM chronik_append(%s::jsonb);

-- name: listen_commits
LISTEN chronik_events;

-- name: head
SELECT coalesce(max(sequence), 0) FROM events;

-- name: events_by_locators
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at
FROM events WHERE locator = ANY(%s::text[]) ORDER BY sequence;

-- name: names
SELECT name FROM event_names WHERE tenant_key = %s AND kind = %s ORDER BY name;

-- name: read_after
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at
FROM events WHERE sequence > %s ORDER BY sequence LIMIT %s;

-- name: read_after_tenant
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at
FROM events WHERE tenant_key = %s AND sequence > %s ORDER BY sequence LIMIT %s;

-- name: get_event
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at
FROM events WHERE locator = %s AND tenant_key = %s;

-- name: events_of_request
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at
FROM events WHERE request_id = %s AND tenant_key = %s ORDER BY sequence;

-- name: sequence_at_or_after
SELECT sequence FROM events WHERE created_at >= %s ORDER BY created_at, sequence LIMIT 1;

-- name: sequence_after
SELECT sequence FROM events WHERE created_at > %s ORDER BY created_at, sequence LIMIT 1;

-- name: tenant_key
SELECT key FROM tenants WHERE id = %s;

-- name: tenant_ids
SELECT key, id FROM tenants WHERE key = ANY(%s::integer[]);

-- name: insert_tenant
INSERT INTO tenants (id, name, created_at) VALUES (%s, %s, %s);

-- name: get_tenant
SELECT id, name, created_at FROM tenants WHERE id = %s OR name = %s;

-- name: list_tenants
SELECT id, name, created_at FROM tenants ORDER BY created_at, key;

-- The search is one template and fixed fragments: the backend picks fragments by the filter's
-- shape and binds every value as a parameter. {index}, {where} and {direction} are filled
-- only from the named fragments below (PostgreSQL needs no index hints).

-- name: search
SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, aggregate_version,
       resource_owner, type, revision, payload, editor_user_id, editor_service, request_id,
       created_at
FROM events {index}
WHERE tenant_key = %(tenant_key)s {where}
ORDER BY sequence {direction} LIMIT %(limit)s;

-- name: where_after
AND sequence > %(after)s

-- name: where_before
AND sequence < %(before)s

-- name: where_aggregate_id
AND aggregate_id = %(aggregate_id)s

-- name: where_event_type
AND type = %(event_type)s

-- name: where_event_types
AND type = ANY(%(event_types)s::text[])

-- name: where_aggregate_type
AND aggregate_type = %(aggregate_type)s

-- name: where_aggregate_types
AND aggregate_type = ANY(%(aggregate_types)s::text[])

-- name: where_editor
AND editor_user_id = %(editor_user_id)s

-- name: where_resource_owner
AND resource_owner = %(resource_owner)s

-- name: direction_asc
ASC

-- name: direction_desc
DESC

-- name: insert_token
INSERT INTO tokens (id, tenant_key, name, secret_hash, organisation_id, roles, created_at,
                    expires_at, revoked_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL);

-- name: token_by_hash
SELECT t.id, n.id, t.name, t.secret_hash, t.organisation_id, t.roles, t.created_at,
       t.expires_at, t.revoked_at
FROM tokens t JOIN tenants n ON n.key = t.tenant_key WHERE t.secret_hash = %s;

-- name: list_tokens
SELECT t.id, n.id, t.name, t.secret_hash, t.organisation_id, t.roles, t.created_at,
       t.expires_at, t.revoked_at
FROM tokens t JOIN tenants n ON n.key = t.tenant_key
WHERE t.tenant_key = %s ORDER BY t.created_at, t.id;

-- name: revoke_token
UPDATE tokens SET revoked_at = %s WHERE id = %s AND tenant_key = %s AND revoked_at IS NULL;
