"""The native API of views (``/v1/views``, ``/v1/failed-events``): what ZITADEL's Admin API
lacks: retrying failed events, resetting, pausing and resuming views, filters and paging;
and reading a view's rows."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from chronik.api.http import JSON, permission, services
from chronik.api.schemas import (
    FailedEventPage,
    NativeError,
    NativeFailedEvent,
    NativeView,
    NativeViews,
    RetryScheduled,
    Shape,
    answers,
)
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, NotFound
from chronik.events.shapes import timestamp
from chronik.records import FailedEvent
from chronik.views import Row, ViewStatus
from chronik.views.reading import MAX_PAGE_SIZE, MAX_WAIT_SECONDS

router = APIRouter(prefix="/v1", tags=["Native API: views"])

ViewName = Annotated[str, Path(min_length=1, max_length=200)]
Sequence = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _view(status: ViewStatus, registered: bool) -> dict[str, Any]:
    s = status.state
    view: dict[str, Any] = {
        "name": s.view,
        "database": s.database,
        "position": str(s.position),
        "lag": str(status.lag),
        "failedEvents": status.failed,
        "paused": s.paused,
        "state": status.activity,
        "registered": registered,
    }
    if status.node is not None:
        view["node"] = status.node
    if s.event_at is not None:
        view["eventTimestamp"] = timestamp(s.event_at)
    if s.last_run is not None:
        view["lastRun"] = timestamp(s.last_run)
    return view


def _failed(f: FailedEvent) -> dict[str, Any]:
    failed: dict[str, Any] = {
        "view": f.view,
        "database": f.database,
        "sequence": str(f.sequence),
        "failureCount": f.failure_count,
        "error": f.error,
        "firstFailed": timestamp(f.first_failed),
        "lastFailed": timestamp(f.last_failed),
    }
    if f.retry_at is not None:
        failed["retryAt"] = timestamp(f.retry_at)
    return failed


async def _status(request: Request, tenant_id: str, name: str) -> dict[str, Any]:
    views = services(request).views
    for status in await views.statuses(tenant_id):
        if status.state.view == name:
            return _view(status, name in {v.name for v in views.registry})
    raise NotFound(f"view {name!r} not found")


@router.get(
    "/views",
    summary="Views with position, lag and failed events",
    responses=answers(NativeViews, NativeError),
)
async def list_views(
    request: Request, caller: Annotated[Principal, Depends(permission(p.IAM_READ))]
) -> JSON:
    views = services(request).views
    registered = {v.name for v in views.registry}
    statuses = await views.statuses(caller.tenant_id)
    return JSON({"views": [_view(s, s.state.view in registered) for s in statuses]})


def _token(after: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(after)).encode()).decode().rstrip("=")


def _after(token: str) -> tuple[str, int]:
    try:
        view, sequence = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(view, str) and isinstance(sequence, int) and not isinstance(sequence, bool):
            return view, sequence
    except (ValueError, TypeError, binascii.Error):
        pass
    raise InvalidArgument("pagingToken is not one this server gave out")


@router.get(
    "/failed-events",
    summary="Failed events, by view and sequence",
    responses=answers(FailedEventPage, NativeError),
)
async def list_failed_events(
    request: Request,
    caller: Annotated[Principal, Depends(permission(p.IAM_READ))],
    view: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    min_failures: Annotated[int, Query(alias="minFailures", ge=0, le=2**31 - 1)] = 0,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 100,
    paging_token: Annotated[str | None, Query(alias="pagingToken", max_length=600)] = None,
) -> JSON:
    after = _after(paging_token) if paging_token else None
    page = await services(request).views.failed(
        caller.tenant_id, view=view, min_failures=min_failures, after=after, limit=page_size
    )
    body: dict[str, Any] = {"failedEvents": [_failed(f) for f in page]}
    if len(page) == page_size:
        body["pagingToken"] = _token((page[-1].view, page[-1].sequence))
    return JSON(body)


@router.post(
    "/views/{name}/failed-events/{sequence}/_retry",
    summary="Run one failed event through its view again now",
    status_code=202,
    responses=answers(RetryScheduled, NativeError, 404, success=202),
)
async def retry_one(
    request: Request,
    name: ViewName,
    sequence: Sequence,
    caller: Annotated[Principal, Depends(permission(p.IAM_WRITE))],
) -> JSON:
    count = await services(request).views.retry(caller.tenant_id, name, sequence)
    return JSON({"scheduled": count}, status_code=202)


@router.post(
    "/views/{name}/_retry",
    summary="Run every failed event of a view through it again now",
    status_code=202,
    responses=answers(RetryScheduled, NativeError, 404, success=202),
)
async def retry_all(
    request: Request,
    name: ViewName,
    caller: Annotated[Principal, Depends(permission(p.IAM_WRITE))],
) -> JSON:
    count = await services(request).views.retry(caller.tenant_id, name)
    return JSON({"scheduled": count}, status_code=202)


@router.delete(
    "/views/{name}/failed-events/{sequence}",
    summary="Remove a failed event (a view waiting on it moves past it)",
    responses=answers(NativeFailedEvent, NativeError, 404),
)
async def remove(
    request: Request,
    name: ViewName,
    sequence: Sequence,
    caller: Annotated[Principal, Depends(permission(p.IAM_WRITE))],
) -> JSON:
    views = services(request).views
    found = await views.failed_event(caller.tenant_id, name, sequence)
    await views.remove_failed(caller.tenant_id, name, sequence)
    return JSON(_failed(found))


def _control(action: str, summary: str) -> None:
    async def control(
        request: Request,
        name: ViewName,
        caller: Annotated[Principal, Depends(permission(p.IAM_WRITE))],
    ) -> JSON:
        views = services(request).views
        await getattr(views, action)(caller.tenant_id, name)
        return JSON(await _status(request, caller.tenant_id, name))

    control.__name__ = f"{action}_view"
    router.add_api_route(
        f"/views/{{name}}/_{action}",
        control,
        methods=["POST"],
        summary=summary,
        responses=answers(NativeView, NativeError, 404),
    )


_control("reset", "Rebuild a view from sequence 0 (its rows and failed events cleared)")
_control("pause", "Pause a view")
_control("resume", "Resume a paused view")


class NativeRow(Shape):
    key: str
    value: Any = Field(description="The JSON the view stored")


class NativeRowAt(NativeRow):
    position: str = Field(description="The view's sequence (in this tenant) the row reflects")


class NativeRowPage(Shape):
    rows: list[NativeRow]
    position: str = Field(description="The view's sequence (in this tenant) the rows reflect")
    pagingToken: str | None = Field(
        default=None, description="Reads the next page; absent when there is none"
    )


def _row_answers(ok: type[Shape]) -> dict[int | str, dict[str, Any]]:
    declared = answers(ok, NativeError, 404, 409)
    declared[409] = {
        "model": NativeError,
        "description": "The view had not reached minSequence when waitSeconds ran out; "
        "details.position is where it was",
    }
    return declared


MinSequence = Annotated[
    int,
    Query(
        alias="minSequence",
        ge=0,
        le=2**63 - 1,
        description="Wait until the view has passed this sequence (read your writes)",
    ),
]
WaitSeconds = Annotated[
    float,
    Query(
        alias="waitSeconds",
        ge=0,
        le=MAX_WAIT_SECONDS,
        allow_inf_nan=False,
        description="How long to wait for minSequence before answering 409",
    ),
]


@router.get(
    "/views/{name}/rows",
    summary="A view's rows, by key: a page, with the view's position they reflect",
    responses=_row_answers(NativeRowPage),
)
async def list_rows(
    request: Request,
    name: ViewName,
    caller: Annotated[Principal, Depends(permission(p.IAM_READ))],
    prefix: Annotated[str, Query(max_length=2000)] = "",
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 100,
    paging_token: Annotated[str | None, Query(alias="pagingToken", max_length=8192)] = None,
    min_sequence: MinSequence = 0,
    wait_seconds: WaitSeconds = 5.0,
) -> JSON:
    page = await services(request).views.rows(
        caller.tenant_id,
        name,
        prefix=prefix,
        page_size=page_size,
        paging_token=paging_token,
        min_sequence=min_sequence,
        wait_seconds=wait_seconds,
    )
    body: dict[str, Any] = {
        "rows": [{"key": r.key, "value": r.value} for r in page.rows],
        "position": str(page.position),
    }
    if page.paging_token:
        body["pagingToken"] = page.paging_token
    return JSON(body)


@router.get(
    "/views/{name}/rows/{key:path}",
    summary="One row of a view, with the view's position it reflects",
    responses=_row_answers(NativeRowAt),
)
async def get_row(
    request: Request,
    name: ViewName,
    key: str,
    caller: Annotated[Principal, Depends(permission(p.IAM_READ))],
    min_sequence: MinSequence = 0,
    wait_seconds: WaitSeconds = 5.0,
) -> JSON:
    found: Row = await services(request).views.row(
        caller.tenant_id, name, key, min_sequence=min_sequence, wait_seconds=wait_seconds
    )
    return JSON({"key": found.key, "value": found.value, "position": str(found.position)})
