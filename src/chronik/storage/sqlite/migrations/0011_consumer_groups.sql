-- Consumer groups: a named position of a tenant that competing consumers pull from. A
-- group's read position is the view "group.<name>"'s, its parked events that view's failed
-- events. What is handed out and not yet acknowledged is in flight.
CREATE TABLE consumer_groups (
    tenant_key INTEGER NOT NULL,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, name)
) WITHOUT ROWID;
CREATE TABLE group_inflight (
    tenant_key  INTEGER NOT NULL,
    grp         TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    consumer    TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    deliveries  INTEGER NOT NULL,
    PRIMARY KEY (tenant_key, grp, sequence)
) WITHOUT ROWID;
