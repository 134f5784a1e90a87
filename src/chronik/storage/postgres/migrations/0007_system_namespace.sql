-- Chronik's own records move to the reserved namespace "chronik.", which no user write can
-- reach. Only the events of the shapes Chronik wrote move, and any other event of the old
-- aggregate types stays a user's event.
UPDATE events SET aggregate_type = 'chronik.' || aggregate_type
WHERE (aggregate_type = 'action' AND type IN ('action.added', 'action.changed',
       'action.deactivated', 'action.reactivated', 'action.removed'))
   OR (aggregate_type = 'action_name' AND type IN ('action.name.reserved', 'action.name.released'))
   OR (aggregate_type = 'flow' AND type IN ('flow.trigger.set', 'flow.cleared'));

INSERT INTO event_names (tenant_key, kind, name)
SELECT DISTINCT tenant_key, 'aggregate', aggregate_type FROM events
WHERE aggregate_type IN ('chronik.action', 'chronik.action_name', 'chronik.flow')
ON CONFLICT DO NOTHING;

DELETE FROM event_names
WHERE kind = 'aggregate' AND name IN ('action', 'action_name', 'flow')
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant_key = event_names.tenant_key
                  AND e.aggregate_type = event_names.name);
