"""How events look on each surface, and in the body of a webhook's delivery.

These run once per event of every page, so they build plain dicts directly and reuse what
repeats (localized type names); msgspec encodes the result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chronik.records import Event

_last_stamp: tuple[datetime | None, str] = (None, "")


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` and six fractional digits, as the seeds write it.

    The events of one commit share one ``datetime`` object when the backends decode them, so
    the last conversion is kept and reused for the same object."""
    global _last_stamp
    last = _last_stamp
    if at is last[0]:
        return last[1]
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds")[:-6] + "Z"
    _last_stamp = (at, text)
    return text


def socotra_event(e: Event) -> dict[str, Any]:
    """An event as Socotra's ``EventResponse``."""
    return {
        "locator": e.locator,
        "userLocator": e.editor_user_id,
        "requestId": e.request_id,
        "timestamp": timestamp(e.created_at),
        "type": e.type,
        "data": e.payload,
    }


def native_event(e: Event) -> dict[str, Any]:
    """An event as the native API answers it: every field, ``null`` where none was given."""
    return {
        "locator": e.locator,
        "sequence": str(e.sequence),
        "tenantId": e.tenant_id,
        "aggregateType": e.aggregate_type,
        "aggregateId": e.aggregate_id,
        "aggregateVersion": e.aggregate_version,
        "resourceOwner": e.resource_owner,
        "type": e.type,
        "revision": e.revision,
        "payload": e.payload,
        "editor": {"userId": e.editor_user_id, "service": e.editor_service},
        "requestId": e.request_id,
        "creationDate": timestamp(e.created_at),
        "correlationId": e.correlation_id,
        "causationId": e.causation_id,
        "metadata": e.metadata,
    }
