"""Socotra's Webhooks API and Diverted Events API under ``/event/{tenantLocator}/webhooks``:
create, fetch, list, update, unsuspend and delete webhooks; list, fetch, resend and delete
their diverted events. Socotra's groups: fetch needs ``read``, list ``read`` and ``list``.

As in the rest of the Socotra surface, the tenant in the path must be the caller's own. The
bodies, answers and operations are :mod:`chronik.api.webhooks`'.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from chronik.api import webhooks as w
from chronik.api.http import JSON, body_schema, permission
from chronik.api.schemas import (
    DivertedEventResponse,
    Resent,
    SocotraError,
    WebhookList,
    WebhookResponse,
    answers,
)
from chronik.api.socotra_events import own_tenant
from chronik.auth import permissions as p
from chronik.auth.principal import Principal

router = APIRouter(prefix="/event/{tenantLocator}/webhooks", tags=["Socotra Webhooks API"])
diverted = APIRouter(prefix="/event/{tenantLocator}/webhooks", tags=["Socotra Diverted Events API"])


@router.post(
    "",
    summary="Create Webhook (the answer is the only one that shows its secret)",
    openapi_extra=body_schema(w.CreateWebhookRequest, required=True),
    responses=answers(WebhookResponse, SocotraError, 404),
)
async def create_webhook(
    request: Request,
    tenantLocator: str,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))],
) -> JSON:
    return await w.create(request, own_tenant(tenantLocator, caller))


# Before /{webhookLocator}, which would take "list" for a locator.
@router.get("/list", summary="Fetch Webhooks", responses=answers(WebhookList, SocotraError, 404))
async def list_webhooks(
    request: Request,
    tenantLocator: str,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_LIST))],
    filters: Annotated[w.Filters, Depends(w.filters)],
) -> JSON:
    caller.require(p.WEBHOOKS_READ)
    return await w.find(request, own_tenant(tenantLocator, caller), filters)


@router.get(
    "/{webhookLocator}",
    summary="Fetch Webhook",
    responses=answers(WebhookResponse, SocotraError, 404),
)
async def get_webhook(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_READ))],
) -> JSON:
    return await w.get(request, own_tenant(tenantLocator, caller), webhookLocator)


@router.patch(
    "/{webhookLocator}",
    summary="Update Webhook (only what is given changes)",
    openapi_extra=body_schema(w.UpdateWebhookRequest, required=True),
    responses=answers(WebhookResponse, SocotraError, 404),
)
async def update_webhook(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))],
) -> JSON:
    return await w.update(request, own_tenant(tenantLocator, caller), webhookLocator)


@router.patch(
    "/{webhookLocator}/unsuspend",
    summary="Unsuspend Webhook (delivery goes on from the event it stopped at)",
    responses=answers(WebhookResponse, SocotraError, 404),
)
async def unsuspend_webhook(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))],
) -> JSON:
    return await w.unsuspend(request, own_tenant(tenantLocator, caller), webhookLocator)


@router.delete(
    "/{webhookLocator}",
    summary="Delete Webhook (with its diverted events)",
    status_code=204,
    responses=answers(None, SocotraError, 404),
)
async def delete_webhook(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.WEBHOOKS_WRITE))],
) -> Response:
    return await w.delete(request, own_tenant(tenantLocator, caller), webhookLocator)


@diverted.get(
    "/{webhookLocator}/diverted",
    summary="Fetch Diverted Events",
    responses=answers(list[DivertedEventResponse], SocotraError, 404),  # type: ignore[arg-type]
)
async def list_diverted(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_LIST))],
    offset: w.Offset = 0,
    count: w.Count = 100,
) -> JSON:
    caller.require(p.DIVERTED_READ)
    tenant = own_tenant(tenantLocator, caller)
    return await w.diverted(request, tenant, webhookLocator, offset, count)


@diverted.get(
    "/{webhookLocator}/diverted/{eventLocator}",
    summary="Fetch Diverted Event",
    responses=answers(DivertedEventResponse, SocotraError, 404),
)
async def get_diverted(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    eventLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_READ))],
) -> JSON:
    tenant = own_tenant(tenantLocator, caller)
    return await w.diverted_event(request, tenant, webhookLocator, eventLocator)


@diverted.post(
    "/{webhookLocator}/diverted/{eventLocator}/resend",
    summary="Resend Diverted Event (502 when the receiver refuses it again)",
    responses=answers(Resent, SocotraError, 404, 502),
)
async def resend_diverted(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    eventLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_RESEND))],
) -> JSON:
    tenant = own_tenant(tenantLocator, caller)
    return await w.resend(request, tenant, webhookLocator, eventLocator)


@diverted.delete(
    "/{webhookLocator}/diverted/{eventLocator}",
    summary="Delete Diverted Event",
    status_code=204,
    responses=answers(None, SocotraError, 404),
)
async def delete_diverted(
    request: Request,
    tenantLocator: str,
    webhookLocator: w.Locator,
    eventLocator: w.Locator,
    caller: Annotated[Principal, Depends(permission(p.DIVERTED_DELETE))],
) -> Response:
    tenant = own_tenant(tenantLocator, caller)
    return await w.delete_diverted(request, tenant, webhookLocator, eventLocator)
