"""The native API of webhooks (``/v1/webhooks``), in the caller's tenant: Socotra's webhook
and diverted-event operations with the same bodies and answers (:mod:`chronik.api.webhooks`),
and what Socotra lacks: where a webhook's delivery stands (``/status``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from chronik.api import webhooks as w
from chronik.api.http import JSON, body_schema, permission, services
from chronik.api.schemas import (
    DivertedEventResponse,
    NativeError,
    Resent,
    WebhookList,
    WebhookResponse,
    WebhookStatusResponse,
    answers,
)
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.events.shapes import timestamp
from chronik.webhooks import WebhookStatus

router = APIRouter(prefix="/v1/webhooks", tags=["Native API: webhooks"])


def status_shown(status: WebhookStatus) -> dict[str, Any]:
    retrying = status.retrying
    return {
        "locator": status.webhook.locator,
        "position": str(status.position),
        "head": str(status.head),
        "lag": status.lag,
        "retrying": None
        if retrying is None
        else {
            "eventSequence": str(retrying.sequence),
            "failureCount": retrying.failure_count,
            "error": retrying.error,
            "retryAt": None if retrying.retry_at is None else timestamp(retrying.retry_at),
        },
        "diverted": status.diverted,
        "node": status.node,
    }


@router.post(
    "",
    summary="Create a webhook (the answer is the only one that shows its secret)",
    status_code=201,
    openapi_extra=body_schema(w.CreateWebhookRequest, required=True),
    responses=answers(WebhookResponse, NativeError, success=201),
)
async def create(
    request: Request, caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))]
) -> JSON:
    return await w.create(request, caller.tenant_id, status_code=201)


@router.get("", summary="List webhooks", responses=answers(WebhookList, NativeError))
async def list_webhooks(
    request: Request,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_LIST))],
    filters: Annotated[w.Filters, Depends(w.filters)],
) -> JSON:
    caller.require(p.WEBHOOKS_READ)
    return await w.find(request, caller.tenant_id, filters)


@router.get(
    "/{locator}", summary="Get a webhook", responses=answers(WebhookResponse, NativeError, 404)
)
async def get(
    request: Request,
    locator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_READ))],
) -> JSON:
    return await w.get(request, caller.tenant_id, locator)


@router.patch(
    "/{locator}",
    summary="Change a webhook (only what is given changes)",
    openapi_extra=body_schema(w.UpdateWebhookRequest, required=True),
    responses=answers(WebhookResponse, NativeError, 404),
)
async def update(
    request: Request,
    locator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))],
) -> JSON:
    return await w.update(request, caller.tenant_id, locator)


@router.delete(
    "/{locator}",
    summary="Delete a webhook with its diverted events",
    status_code=204,
    responses=answers(None, NativeError, 404),
)
async def delete(
    request: Request,
    locator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))],
) -> Response:
    return await w.delete(request, caller.tenant_id, locator)


@router.patch(
    "/{locator}/unsuspend",
    summary="Unsuspend a webhook (delivery goes on from the event it stopped at)",
    responses=answers(WebhookResponse, NativeError, 404),
)
async def unsuspend(
    request: Request,
    locator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))],
) -> JSON:
    return await w.unsuspend(request, caller.tenant_id, locator)


@router.get(
    "/{locator}/status",
    summary="Where a webhook's delivery stands: position, lag, the event retried, the node",
    responses=answers(WebhookStatusResponse, NativeError, 404),
)
async def status(
    request: Request,
    locator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_READ))],
) -> JSON:
    return JSON(status_shown(await services(request).webhooks.status(caller.tenant_id, locator)))


@router.get(
    "/{locator}/diverted",
    summary="A webhook's diverted events, oldest first",
    responses=answers(list[DivertedEventResponse], NativeError, 404),  # type: ignore[arg-type]
)
async def list_diverted(
    request: Request,
    locator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_LIST))],
    offset: w.Offset = 0,
    count: w.Count = 100,
) -> JSON:
    caller.require(p.DIVERTED_READ)
    return await w.diverted(request, caller.tenant_id, locator, offset, count)


@router.get(
    "/{locator}/diverted/{eventLocator}",
    summary="A diverted event",
    responses=answers(DivertedEventResponse, NativeError, 404),
)
async def get_diverted(
    request: Request,
    locator: w.Locator,
    eventLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_READ))],
) -> JSON:
    return await w.diverted_event(request, caller.tenant_id, locator, eventLocator)


@router.post(
    "/{locator}/diverted/{eventLocator}/resend",
    summary="Deliver a diverted event again now (502 when the receiver refuses it again)",
    responses=answers(Resent, NativeError, 404, 502),
)
async def resend_diverted(
    request: Request,
    locator: w.Locator,
    eventLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_RESEND))],
) -> JSON:
    return await w.resend(request, caller.tenant_id, locator, eventLocator)


@router.delete(
    "/{locator}/diverted/{eventLocator}",
    summary="Delete a diverted event",
    status_code=204,
    responses=answers(None, NativeError, 404),
)
async def delete_diverted(
    request: Request,
    locator: w.Locator,
    eventLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_DELETE))],
) -> Response:
    return await w.delete_diverted(request, caller.tenant_id, locator, eventLocator)
