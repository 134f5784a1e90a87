"""The native API's JSON, to and from the records the embedded API uses, and its error body
to the one error tree: so that a call and an ``except`` read the same embedded and remote."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from chronik import errors
from chronik.records import (
    Event,
    EventQuery,
    ExpectedVersion,
    FailedEvent,
    NewEvent,
    ViewState,
    ViewStatus,
)

_CODES = {
    3: "INVALID_ARGUMENT",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}
"""The gRPC codes' names, as the native error body writes them."""
_CLASSES: tuple[type[errors.ChronikError], ...] = (
    errors.InvalidArgument,
    errors.FailedPrecondition,
    errors.NotFound,
    errors.AlreadyExists,
    errors.Conflict,
    errors.PermissionDenied,
    errors.ResourceExhausted,
    errors.Unauthenticated,
    errors.Unavailable,
    errors.DeliveryFailed,
)
ERRORS: dict[tuple[str, int], type[errors.ChronikError]] = {
    (_CODES[cls.grpc_code], cls.http_status): cls for cls in _CLASSES
}
"""The class of a native error by its code and HTTP status: both, because two classes share
a code (``Unavailable`` 503 and ``DeliveryFailed`` 502) and two a status (400, 409)."""
BY_CODE: dict[str, type[errors.ChronikError]] = {
    code: cls for (code, _), cls in reversed(ERRORS.items())
}
BY_STATUS: dict[int, type[errors.ChronikError]] = {
    **{status: cls for (_, status), cls in reversed(ERRORS.items())},
    502: errors.Unavailable,
    504: errors.Unavailable,
}
"""The class of an answer without a native error body (a proxy's, say): a bare 502 is a
gateway's, the server out of reach, not a receiver refusing a resend."""
RETRIED_STATUSES = frozenset({502, 503, 504})
"""Answers that say the server could not take the call now: a safe call is tried again."""
_UPPER = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _UPPER.sub("_", name).lower()


def error(status: int, body: Any, text: str) -> errors.ChronikError:
    """The error a native error answer stands for; ``details`` in Python's names, as the
    server's core raised them (``currentVersion`` -> ``current_version``)."""
    found = body.get("error") if isinstance(body, dict) else None
    if isinstance(found, dict) and isinstance(found.get("code"), str):
        code = found["code"]
        cls = ERRORS.get((code, status)) or BY_CODE.get(code, errors.ChronikError)
        details = found.get("details") or {}
        message = str(found.get("message", ""))
        return cls(message, **{_snake(k): v for k, v in details.items()})
    cls = BY_STATUS.get(status, errors.ChronikError)
    return cls(f"HTTP {status}: {text[:200]}", status=status)


def time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def event(d: dict[str, Any]) -> Event:
    editor = d["editor"]
    return Event(
        int(d["sequence"]),
        d["locator"],
        d["tenantId"],
        d["aggregateType"],
        d["aggregateId"],
        d["aggregateVersion"],
        d["resourceOwner"],
        d["type"],
        d["revision"],
        d["payload"],
        editor["userId"],
        editor["service"],
        d["requestId"],
        time(d["creationDate"]),
        d.get("correlationId"),
        d.get("causationId"),
        d.get("metadata") or {},
    )


def new_event(e: NewEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "aggregateType": e.aggregate_type,
        "aggregateId": e.aggregate_id,
        "type": e.type,
        "payload": e.payload,
        "resourceOwner": e.resource_owner,
        "revision": e.revision,
    }
    for name, value in (
        ("locator", e.locator),
        ("correlationId", e.correlation_id),
        ("causationId", e.causation_id),
    ):
        if value is not None:
            body[name] = value
    if e.metadata:
        body["metadata"] = e.metadata
    return body


def expected(x: ExpectedVersion) -> dict[str, Any]:
    return {"aggregateType": x.aggregate_type, "aggregateId": x.aggregate_id, "version": x.version}


def query(q: EventQuery) -> dict[str, Any]:
    """A search's filters as the native search takes them (unset ones left out)."""
    body: dict[str, Any] = {"asc": q.asc, "includeSystem": q.system}
    for name, value in (
        ("sequence", q.sequence),
        ("limit", q.limit),
        ("editorUserId", q.editor_user_id),
        ("eventTypes", list(q.event_types)),
        ("aggregateId", q.aggregate_id),
        ("aggregateTypes", list(q.aggregate_types)),
        ("resourceOwner", q.resource_owner),
        ("correlationId", q.correlation_id),
    ):
        if value:
            body[name] = value
    if q.creation_date is not None:
        body["creationDate"] = q.creation_date.isoformat()
    if q.since is not None or q.until is not None:
        body["range"] = {
            k: v.isoformat() for k, v in (("since", q.since), ("until", q.until)) if v is not None
        }
    return body


def failed_event(tenant_id: str, d: dict[str, Any]) -> FailedEvent:
    return FailedEvent(
        view=d["view"],
        tenant_id=tenant_id,
        database=d["database"],
        sequence=int(d["sequence"]),
        failure_count=d["failureCount"],
        error=d["error"],
        first_failed=time(d["firstFailed"]),
        last_failed=time(d["lastFailed"]),
        retry_at=time(d["retryAt"]) if d.get("retryAt") else None,
    )


def view_status(tenant_id: str, d: dict[str, Any]) -> ViewStatus:
    """A view as ``GET /v1/views`` shows it. The answer tells the lag, not the head: the
    head is the position plus the lag (a view's position never passes the head)."""
    position = int(d["position"])
    node = d.get("node")
    state = ViewState(
        view=d["name"],
        tenant_id=tenant_id,
        database=d["database"],
        position=position,
        event_at=time(d["eventTimestamp"]) if d.get("eventTimestamp") else None,
        last_run=time(d["lastRun"]) if d.get("lastRun") else None,
        paused=d["paused"],
        owner=node,
    )
    return ViewStatus(
        state=state, head=position + int(d["lag"]), failed=d["failedEvents"], node=node
    )


def subscription(q: EventQuery) -> dict[str, Any]:
    """A query's filters as ``GET /v1/events/subscribe`` takes them; its ordering, limit,
    sequence and time bounds are the subscription's own, as embedded."""
    params: dict[str, Any] = {}
    for name, value in (
        ("aggregateTypes", list(q.aggregate_types)),
        ("eventTypes", list(q.event_types)),
        ("aggregateId", q.aggregate_id),
        ("resourceOwner", q.resource_owner),
        ("editorUserId", q.editor_user_id),
        ("correlationId", q.correlation_id),
    ):
        if value:
            params[name] = value
    if q.system:
        params["includeSystem"] = "true"
    return params
