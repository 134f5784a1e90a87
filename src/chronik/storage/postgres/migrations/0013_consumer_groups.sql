-- Consumer groups: a named position of a tenant that competing consumers pull from. A
-- group's read position is the view "group.<name>"'s, its parked events that view's failed
-- events. What is handed out and not yet acknowledged is in flight.
CREATE TABLE consumer_groups (
    tenant_key integer NOT NULL,
    name       text NOT NULL,
    definition text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_key, name)
);
CREATE TABLE group_inflight (
    tenant_key  integer NOT NULL,
    grp         text NOT NULL,
    sequence    bigint NOT NULL,
    consumer    text NOT NULL,
    lease_until timestamptz NOT NULL,
    deliveries  integer NOT NULL,
    PRIMARY KEY (tenant_key, grp, sequence)
);
