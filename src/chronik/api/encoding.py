"""How events look on each surface."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chronik.events.catalogue import localize
from chronik.records import Event


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as grpc-gateway writes it."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _localized(kind: str, name: str, language: str) -> dict[str, Any]:
    found = localize(kind, name, language)
    return {
        "type": name,
        "localized": {"key": found.key, "localizedMessage": found.localized_message},
    }


def _drop_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in ("", None)}


def zitadel_event(e: Event, language: str) -> dict[str, Any]:
    """An event as ZITADEL's Admin API ListEvents answers it (empty fields omitted)."""
    return {
        "editor": _drop_empty({"userId": e.editor_user_id, "service": e.editor_service}),
        "aggregate": _drop_empty(
            {
                "id": e.aggregate_id,
                "type": _localized("aggregate", e.aggregate_type, language),
                "resourceOwner": e.resource_owner,
            }
        ),
        "sequence": str(e.sequence),
        "creationDate": timestamp(e.created_at),
        "payload": e.payload,
        "type": _localized("event", e.type, language),
    }


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
    }
