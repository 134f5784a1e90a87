"""Roles and the permissions they grant, after ZITADEL's defaults and Socotra's groups."""

from __future__ import annotations

EVENTS_READ = "events.read"
EVENTS_LIST = "events.list"
EVENTS_WRITE = "events.write"
IAM_READ = "iam.read"
IAM_WRITE = "iam.write"
ACTION_READ = "org.action.read"
ACTION_WRITE = "org.action.write"
ACTION_DELETE = "org.action.delete"
FLOW_READ = "org.flow.read"
FLOW_WRITE = "org.flow.write"
FLOW_DELETE = "org.flow.delete"
WEBHOOKS_READ = "webhooks.read"
WEBHOOKS_LIST = "webhooks.list"
WEBHOOKS_WRITE = "webhooks.write"
DIVERTED_READ = "diverted-events.read"
DIVERTED_LIST = "diverted-events.list"
DIVERTED_RESEND = "diverted-events.resend"
DIVERTED_DELETE = "diverted-events.delete"

ALL = frozenset(
    {
        EVENTS_READ,
        EVENTS_LIST,
        EVENTS_WRITE,
        IAM_READ,
        IAM_WRITE,
        ACTION_READ,
        ACTION_WRITE,
        ACTION_DELETE,
        FLOW_READ,
        FLOW_WRITE,
        FLOW_DELETE,
        WEBHOOKS_READ,
        WEBHOOKS_LIST,
        WEBHOOKS_WRITE,
        DIVERTED_READ,
        DIVERTED_LIST,
        DIVERTED_RESEND,
        DIVERTED_DELETE,
    }
)

ROLES: dict[str, frozenset[str]] = {
    "IAM_OWNER": ALL,
    "IAM_OWNER_VIEWER": frozenset(
        {
            EVENTS_READ,
            EVENTS_LIST,
            IAM_READ,
            ACTION_READ,
            FLOW_READ,
            WEBHOOKS_READ,
            WEBHOOKS_LIST,
            DIVERTED_READ,
            DIVERTED_LIST,
        }
    ),
    "ORG_OWNER": frozenset(
        {ACTION_READ, ACTION_WRITE, ACTION_DELETE, FLOW_READ, FLOW_WRITE, FLOW_DELETE}
    ),
    "ORG_OWNER_VIEWER": frozenset({ACTION_READ, FLOW_READ}),
    "EVENTS_READER": frozenset({EVENTS_READ, EVENTS_LIST}),
    "EVENTS_WRITER": frozenset({EVENTS_READ, EVENTS_LIST, EVENTS_WRITE}),
}


def permissions_of(roles: tuple[str, ...] | list[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLES.get(role, frozenset())
    return frozenset(granted)
