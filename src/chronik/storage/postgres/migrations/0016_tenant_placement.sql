-- Tenants placed across databases. The directory (the database of --database-url) maps each
-- tenant to the database holding its events and records. Every database carries the table;
-- only the directory's rows mean anything.
CREATE TABLE tenant_placement (
    tenant_id text PRIMARY KEY,
    database  text NOT NULL,
    moving_to text,
    placed_at timestamptz NOT NULL
);

-- A tenant moved out of a database keeps its row there, marked, so that its key is never
-- reused and a node that still routes to this database is told where the tenant went.
ALTER TABLE tenants ADD COLUMN moved_to text;
CREATE INDEX tenants_moved ON tenants (key) WHERE moved_to IS NOT NULL;

-- The fence of a move. Every statement that writes a tenant's rows takes the tenant's lock
-- 728392 shared, then checks that the tenant has not moved out; the move takes it exclusive
-- while it marks the tenant. A write either commits before the mark (and the move's copy,
-- taken after the mark, sees it) or fails after it (and the writer goes to the new
-- database). The move itself writes with chronik.moving set. No JIT: called from the append
-- functions (enable_sort off) its plans cost enough to be compiled, some 80 ms per append.
CREATE FUNCTION chronik_fence() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    v_key integer;
BEGIN
    IF current_setting('chronik.moving', true) = 'on' THEN
        RETURN NULL;
    END IF;
    FOR v_key IN SELECT DISTINCT f.tenant_key FROM fenced f LOOP
        PERFORM pg_advisory_xact_lock_shared(728392, v_key);
        IF EXISTS (SELECT 1 FROM tenants t WHERE t.key = v_key AND t.moved_to IS NOT NULL) THEN
            RAISE EXCEPTION 'tenant % has moved to another database', v_key
                USING ERRCODE = 'CH001';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- A view's rows and the event names are written only in transactions that first write a
-- fenced table (the view's position or its webhook, the events), whose lock covers them to
-- commit: they need no trigger of their own, and a view commit's many row statements pay
-- nothing for the fence.
CREATE TRIGGER events_fence AFTER INSERT ON events
    REFERENCING NEW TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence();

DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['view_positions', 'failed_events', 'schedules', 'failed_jobs',
                                   'action_runs', 'webhooks', 'consumer_groups',
                                   'group_inflight'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_fence_insert AFTER INSERT ON %1$I REFERENCING NEW '
                       'TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence()',
                       v_table);
        EXECUTE format('CREATE TRIGGER %1$s_fence_update AFTER UPDATE ON %1$I REFERENCING NEW '
                       'TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence()',
                       v_table);
        EXECUTE format('CREATE TRIGGER %1$s_fence_delete AFTER DELETE ON %1$I REFERENCING OLD '
                       'TABLE AS fenced FOR EACH STATEMENT EXECUTE FUNCTION chronik_fence()',
                       v_table);
    END LOOP;
END
$$;
