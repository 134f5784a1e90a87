"""Helpers of the HTTP suite: tokens, appends and searches over HTTP, and checks of each
surface's error body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from google.protobuf import json_format
from google.rpc.status_pb2 import Status

from chronik.api.zitadel_status import HTTP_STATUS
from chronik.records import Event, NewEvent
from chronik.services import Chronik
from chronik.views import Rows, View, ViewRunner

Headers = dict[str, str]
ORG = "org-acme"
OTHER_ORG = "org-globex"


async def bearer(
    chronik: Chronik,
    tenant_id: str,
    *roles: str,
    organisation_id: str = ORG,
    expires_at: datetime | None = None,
) -> Headers:
    """The Authorization header of a fresh token of ``tenant_id`` with ``roles``."""
    _, token = await chronik.tokens.issue(
        tenant_id, list(roles), organisation_id=organisation_id, expires_at=expires_at
    )
    return {"Authorization": f"Bearer {token}"}


def new_event(
    aggregate_type: str = "user",
    aggregate_id: str = "u-1",
    type: str = "user.human.added",
    payload: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An event of a native append body."""
    return {
        "aggregateType": aggregate_type,
        "aggregateId": aggregate_id,
        "type": type,
        "payload": {"n": 1} if payload is None else payload,
        **extra,
    }


async def append(
    api: httpx.AsyncClient, headers: Headers, *events: dict[str, Any], **body: Any
) -> list[dict[str, Any]]:
    """Append through ``POST /v1/events``; the stored events as the native API answers."""
    response = await api.post("/v1/events", headers=headers, json={"events": list(events), **body})
    assert response.status_code == 200, response.text
    stored: list[dict[str, Any]] = response.json()["events"]
    return stored


async def search(
    api: httpx.AsyncClient, headers: Headers, body: Any = None
) -> list[dict[str, Any]]:
    """``POST /admin/v1/events/_search``; the events (the call must succeed)."""
    response = await api.post(
        "/admin/v1/events/_search", headers=headers, json={} if body is None else body
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json().get("events", [])
    return found


async def sequences(api: httpx.AsyncClient, headers: Headers, **filters: Any) -> list[str]:
    """The sequences a search with ``filters`` finds, in the order it answers them."""
    return [e["sequence"] for e in await search(api, headers, filters)]


def zitadel_status_body(response: httpx.Response, status: int, code: int) -> Status:
    """Check a grpc-gateway error body: a ``google.rpc.Status`` a protojson client decodes,
    every detail of a type it knows; the Status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    parsed = json_format.ParseDict(body, Status())
    assert parsed.code == code
    assert parsed.message
    for detail in parsed.details:
        assert detail.type_url.startswith("type.googleapis.com/"), detail.type_url
    return parsed


def zitadel_error(response: httpx.Response, status: int, code: int) -> str:
    """Check a grpc-gateway error body; its message."""
    return zitadel_status_body(response, status, code).message


def socotra_error(response: httpx.Response, status: int) -> str:
    """Check a Socotra error body; its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert {"httpStatus", "message"} <= set(body) <= {"httpStatus", "message", "details"}, body
    assert body["httpStatus"] == status
    assert isinstance(body["message"], str) and body["message"]
    message: str = body["message"]
    return message


def native_error(response: httpx.Response, status: int, code: str) -> str:
    """Check a native error body; its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["details"], dict)
    message: str = body["error"]["message"]
    assert isinstance(message, str) and message
    return message


_GRPC = {400: (3, "INVALID_ARGUMENT"), 401: (16, "UNAUTHENTICATED"), 403: (7, "PERMISSION_DENIED")}
_GRPC |= {404: (5, "NOT_FOUND"), 405: (12, "UNIMPLEMENTED"), 413: (8, "RESOURCE_EXHAUSTED")}
_GRPC |= {409: (6, "ALREADY_EXISTS")}


def surface_error(surface: str, response: httpx.Response, status: int, case: Any = None) -> str:
    """Check the error body of ``surface`` for an HTTP ``status`` of the table above (a body
    too large, 413, is grpc-gateway's 429 on ZITADEL's surface); ``case`` names the input in
    the failure message."""
    code, name = _GRPC[status]
    if surface == "zitadel" and status == 413:
        status = HTTP_STATUS[code]
    assert response.status_code == status, (case, response.status_code, response.text)
    if surface == "zitadel":
        return zitadel_error(response, status, code)
    if surface == "socotra":
        return socotra_error(response, status)
    return native_error(response, status, name)


class Poisoned(Exception):
    error_id = "EXAMP-ID3ER"


async def failed_events(chronik: Chronik, tenant_id: str, count: int) -> list[int]:
    """``count`` events that view ``iam_members`` (database ``adminapi``) gave up on, after
    one event it processed; their sequences."""
    poisoned: set[int] = set()

    async def members(event: Event, rows: Rows) -> None:
        if event.sequence in poisoned:
            raise Poisoned("Example message")
        rows.put(event.aggregate_id, event.sequence)

    view = View(name="iam_members", database="adminapi", handler=members, max_failures=1)
    chronik.views.registry.add(view)
    stored = await chronik.events.append(
        tenant_id,
        [
            NewEvent(aggregate_type="user", aggregate_id=f"u{i}", type="user.added")
            for i in range(count + 1)
        ],
    )
    poisoned.update(e.sequence for e in stored[1:])
    runner = ViewRunner(chronik.db, chronik.views.registry, owner="test")
    await runner.catch_up(view, tenant_id)
    await runner.release()
    return sorted(poisoned)
