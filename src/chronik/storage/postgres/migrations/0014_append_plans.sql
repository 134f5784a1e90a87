-- The append functions look up each aggregate's current version by its last event. Without
-- statistics (a database appended to faster than autovacuum analyses it, or a fresh one) the
-- planner costs the aggregate-type index as cheap as the aggregate's own: it then reads every
-- event of that type and tenant, and PL/pgSQL keeps the plan for the connection's life, so
-- appends stayed ~20x slower. Every plan these functions need walks an index in order; no
-- sort is wanted, and none is chosen whatever the statistics say.
ALTER FUNCTION chronik_append(jsonb) SET enable_sort = off;
ALTER FUNCTION chronik_append_one(integer, text, text, text, text, text, integer, jsonb, text,
                                  text, text, text, text, jsonb, integer)
    SET enable_sort = off;
ALTER FUNCTION chronik_append_many(integer, text, text, text, jsonb) SET enable_sort = off;
