-- Tenants placed across databases: the directory's placement table, and the steps of a move
-- (see chronik/storage/placement.py). The directory is the database of --database-url.

-- name: placement_get
SELECT database, moving_to FROM tenant_placement WHERE tenant_id = %s;

-- name: placement_all
SELECT tenant_id, database, moving_to FROM tenant_placement ORDER BY tenant_id;

-- name: placement_counts
SELECT database, count(*) FROM tenant_placement GROUP BY database;

-- A new tenant and its place, in one transaction of the directory.
-- name: placement_insert
INSERT INTO tenant_placement (tenant_id, database, placed_at) VALUES (%s, %s, %s);

-- name: placement_mark_elsewhere
UPDATE tenants SET moved_to = %s WHERE id = %s;

-- One mover per tenant at a time: a session lock, gone with the mover's connection.
-- name: placement_mover_lock
SELECT pg_try_advisory_lock(728393, hashtext(%s));

-- name: placement_mover_unlock
SELECT pg_advisory_unlock(728393, hashtext(%s));

-- name: placement_begin_move
UPDATE tenant_placement SET moving_to = %(to)s
WHERE tenant_id = %(tenant)s AND moving_to IS NULL AND database <> %(to)s;

-- name: placement_cut_over
UPDATE tenant_placement SET database = moving_to, moving_to = NULL, placed_at = %(now)s
WHERE tenant_id = %(tenant)s AND moving_to = %(to)s;

-- name: placement_abandon
UPDATE tenant_placement SET moving_to = NULL WHERE tenant_id = %s;

-- A tenant's row in one of the tenant databases, as the directory has it.
-- name: placement_ensure_tenant
INSERT INTO tenants (id, name, created_at) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING;

-- name: placement_tenant_moved_to
SELECT key, moved_to FROM tenants WHERE id = %s;

-- The move's own writes pass the fence of chronik_fence().
-- name: move_unfenced
SET LOCAL chronik.moving = 'on';

-- name: move_fence_lock
SELECT pg_advisory_xact_lock(728392, %s);

-- name: move_mark
UPDATE tenants SET moved_to = %s WHERE key = %s;

-- name: move_head
SELECT coalesce(max(sequence), 0) FROM events WHERE tenant_key = %s;

-- name: move_count
SELECT count(*) FROM events WHERE tenant_key = %s;

-- name: move_columns
SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position;
