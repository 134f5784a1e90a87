"""What both HTTP surfaces of webhooks share (Socotra's under ``/event/{tenantLocator}/webhooks``,
the native mirror under ``/v1/webhooks``): the request bodies, their translation to the core,
the answers, and the operations themselves; the two route modules only say where each
operation lives, which permission it needs and whose tenant it acts in.

A secret is shown once, in the answer that made it: a create's, or an update's that set or
made a new one. Every other answer shows ``secret`` as null, an alert endpoint's too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from chronik.api.http import JSON, Body, parse, services
from chronik.errors import InvalidArgument
from chronik.events.shapes import timestamp
from chronik.records import Endpoint, FailureHandling, RetryStrategy, Webhook, WebhookDefinition
from chronik.webhooks import WebhookChange
from chronik.webhooks.model import Diverted

Locator = Annotated[str, Path(min_length=1, max_length=200)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Count = Annotated[int, Query(ge=1, le=1000)]
B = TypeVar("B", bound=Body)
T = TypeVar("T")
Texts = Annotated[list[str], Field(max_length=100)]


# -- requests --------------------------------------------------------------------------------


class EndpointBody(Body):
    """An endpoint as given whole; what is left out takes the core's default (no HMAC,
    certificates checked, no tag, no headers), and a signing endpoint without a secret gets
    one made."""

    url: str
    hmac_enabled: bool | None = None
    secret: str | None = None
    secure_ssl: bool | None = None
    tag: str | None = None
    headers: dict[str, list[str]] | None = None


class RetryStrategyBody(Body):
    """Left out: 3 retries, 10 s apart at first, exponential."""

    retries: int | None = None
    interval_seconds: float | None = None
    pattern: Literal["linear", "exponential"] | None = None


class FailureHandlingBody(Body):
    """Left out: triggers ``4xx``, ``5xx`` and ``timeout``, no retries, no alert, nothing
    diverted, never suspended."""

    triggers: Texts | None = None
    alert_endpoint: EndpointBody | None = None
    retry_strategy: RetryStrategyBody | None = None
    divert: bool | None = None
    suspend: bool | None = None


class CreateWebhookRequest(Body):
    name: str
    enabled: bool | None = None
    endpoint: EndpointBody
    failure_handling: FailureHandlingBody | None = None
    event_types: Texts | None = None
    """None or empty: every event type."""


class EndpointChange(Body):
    """The endpoint's fields to set; ``secret: null`` has a new one made (when signing)."""

    url: str | None = None
    hmac_enabled: bool | None = None
    secret: str | None = None
    secure_ssl: bool | None = None
    tag: str | None = None
    headers: dict[str, list[str]] | None = None


class FailureHandlingChange(Body):
    add_triggers: Texts = []
    remove_triggers: Texts = []
    alert_endpoint: EndpointBody | None = None
    remove_alert_endpoint: bool = False
    retry_strategy: RetryStrategyBody | None = None
    remove_retry_strategy: bool = False
    divert: bool | None = None
    suspend: bool | None = None


class UpdateWebhookRequest(Body):
    """Only what is given changes; ``eventTypes`` replaces the types, then
    ``removeEventTypes`` and ``addEventTypes`` apply."""

    name: str | None = None
    enabled: bool | None = None
    endpoint: EndpointChange | None = None
    failure_handling: FailureHandlingChange | None = None
    event_types: Texts | None = None
    add_event_types: Texts = []
    remove_event_types: Texts = []


def _given(**fields: Any) -> dict[str, Any]:
    """The fields that were given: the rest take the core's defaults."""
    return {k: v for k, v in fields.items() if v is not None}


def _maybe(translate: Callable[[B], T], body: B | None) -> T | None:
    return None if body is None else translate(body)


def endpoint_of(body: EndpointBody) -> Endpoint:
    return Endpoint(**body.model_dump(exclude_none=True))


def strategy_of(body: RetryStrategyBody) -> RetryStrategy:
    return RetryStrategy(**body.model_dump(exclude_none=True))


def definition_of(body: CreateWebhookRequest) -> WebhookDefinition:
    handling = body.failure_handling
    return WebhookDefinition(
        **_given(
            name=body.name,
            enabled=body.enabled,
            endpoint=endpoint_of(body.endpoint),
            failure_handling=None
            if handling is None
            else FailureHandling(
                **_given(
                    triggers=None if handling.triggers is None else tuple(handling.triggers),
                    alert_endpoint=_maybe(endpoint_of, handling.alert_endpoint),
                    retry_strategy=_maybe(strategy_of, handling.retry_strategy),
                    divert=handling.divert,
                    suspend=handling.suspend,
                )
            ),
            event_types=None if body.event_types is None else tuple(body.event_types),
        )
    )


def change_of(body: UpdateWebhookRequest) -> WebhookChange:
    endpoint = None
    if body.endpoint is not None:
        set_fields = body.endpoint.model_dump(exclude_unset=True)
        endpoint = {k: v for k, v in set_fields.items() if v is not None or k == "secret"}
    handling = body.failure_handling or FailureHandlingChange()
    return WebhookChange(
        name=body.name,
        enabled=body.enabled,
        endpoint=endpoint,
        add_triggers=tuple(handling.add_triggers),
        remove_triggers=tuple(handling.remove_triggers),
        alert_endpoint=_maybe(endpoint_of, handling.alert_endpoint),
        remove_alert_endpoint=handling.remove_alert_endpoint,
        retry_strategy=_maybe(strategy_of, handling.retry_strategy),
        remove_retry_strategy=handling.remove_retry_strategy,
        divert=handling.divert,
        suspend=handling.suspend,
        event_types=None if body.event_types is None else tuple(body.event_types),
        add_event_types=tuple(body.add_event_types),
        remove_event_types=tuple(body.remove_event_types),
    )


# -- answers ---------------------------------------------------------------------------------


def secrets_of(hook: Webhook) -> frozenset[str]:
    handling = hook.definition.failure_handling
    endpoints = (hook.definition.endpoint, handling.alert_endpoint)
    return frozenset(e.secret for e in endpoints if e is not None and e.secret)


def _endpoint(e: Endpoint, shown_secrets: frozenset[str]) -> dict[str, Any]:
    return {
        "url": e.url,
        "hmacEnabled": e.hmac_enabled,
        "secret": e.secret if e.secret in shown_secrets else None,
        "secureSsl": e.secure_ssl,
        "tag": e.tag,
        "headers": e.headers,
    }


def shown(hook: Webhook, shown_secrets: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A webhook as both surfaces answer it (WebhookResponse), the secrets in
    ``shown_secrets`` in the clear and every other one null."""
    d = hook.definition
    h = d.failure_handling
    handling: dict[str, Any] = {
        "triggers": list(h.triggers),
        "divert": h.divert,
        "suspend": h.suspend,
    }
    if h.alert_endpoint is not None:
        handling["alertEndpoint"] = _endpoint(h.alert_endpoint, shown_secrets)
    if h.retry_strategy is not None:
        s = h.retry_strategy
        handling["retryStrategy"] = {
            "retries": s.retries,
            "intervalSeconds": s.interval_seconds,
            "pattern": s.pattern,
        }
    return {
        "locator": hook.locator,
        "name": d.name,
        "enabled": d.enabled,
        "endpoint": _endpoint(d.endpoint, shown_secrets),
        "failureHandling": handling,
        "suspended": hook.suspended_at is not None,
        "suspendedAt": None if hook.suspended_at is None else timestamp(hook.suspended_at),
        "eventTypes": list(d.event_types),
    }


def diverted_shown(d: Diverted) -> dict[str, Any]:
    """A diverted event as both surfaces answer it (DivertedEventResponse)."""
    return {
        "eventLocator": d.event_locator,
        "requestLocator": d.request_locator,
        "failureMessage": d.failure_message,
        "failureTimestamp": timestamp(d.failure_timestamp),
        "failureTrigger": d.failure_trigger,
    }


# -- operations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's query: a page (``offset``, ``count``) of the webhooks passing every filter
    given; ``eventTypes`` (repeatable) keeps those delivering any of them."""

    offset: int
    count: int
    name: str | None
    enabled: bool | None
    suspended: bool | None
    active: bool | None
    event_types: tuple[str, ...]


def filters(
    offset: Offset = 0,
    count: Count = 100,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    enabled: bool | None = None,
    suspended: bool | None = None,
    active: bool | None = None,
    eventTypes: Annotated[list[str] | None, Query()] = None,
) -> Filters:
    event_types = tuple(eventTypes or ())
    for where, text in [("name", name or ""), *(("eventTypes", t) for t in event_types)]:
        if "\x00" in text:
            raise InvalidArgument(f"{where} holds a NUL (\\u0000) character", field=where)
    return Filters(offset, count, name, enabled, suspended, active, event_types)


async def create(request: Request, tenant: str, *, status_code: int = 200) -> JSON:
    body = await parse(request, CreateWebhookRequest, empty_ok=False)
    hook = await services(request).webhooks.create(tenant, definition_of(body))
    return JSON(shown(hook, secrets_of(hook)), status_code=status_code)


async def get(request: Request, tenant: str, locator: str) -> JSON:
    return JSON(shown(await services(request).webhooks.get(tenant, locator)))


async def find(request: Request, tenant: str, f: Filters) -> JSON:
    items, completed = await services(request).webhooks.find(
        tenant,
        offset=f.offset,
        count=f.count,
        name=f.name,
        enabled=f.enabled,
        suspended=f.suspended,
        active=f.active,
        event_types=f.event_types,
    )
    return JSON({"listCompleted": completed, "items": [shown(h) for h in items]})


async def update(request: Request, tenant: str, locator: str) -> JSON:
    body = await parse(request, UpdateWebhookRequest, empty_ok=False)
    webhooks = services(request).webhooks
    before = await webhooks.get(tenant, locator)
    after = await webhooks.update(tenant, locator, change_of(body))
    return JSON(shown(after, secrets_of(after) - secrets_of(before)))


async def unsuspend(request: Request, tenant: str, locator: str) -> JSON:
    return JSON(shown(await services(request).webhooks.unsuspend(tenant, locator)))


async def delete(request: Request, tenant: str, locator: str) -> Response:
    await services(request).webhooks.delete(tenant, locator)
    return Response(status_code=204)


async def diverted(request: Request, tenant: str, locator: str, offset: int, count: int) -> JSON:
    found = await services(request).webhooks.diverted(tenant, locator, offset=offset, count=count)
    return JSON([diverted_shown(d) for d in found])


async def diverted_event(request: Request, tenant: str, locator: str, event: str) -> JSON:
    found = await services(request).webhooks.diverted_event(tenant, locator, event)
    return JSON(diverted_shown(found))


async def resend(request: Request, tenant: str, locator: str, event: str) -> JSON:
    """``{}`` once the receiver took it; DeliveryFailed (502) when it refused it again."""
    await services(request).webhooks.resend(tenant, locator, event)
    return JSON({})


async def delete_diverted(request: Request, tenant: str, locator: str, event: str) -> Response:
    await services(request).webhooks.delete_diverted(tenant, locator, event)
    return Response(status_code=204)
