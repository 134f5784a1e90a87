"""Webhooks over HTTP (``/v1/webhooks``), as :class:`~chronik.webhooks.Webhooks` offers them:
the same calls and arguments, answered with the core records
(:class:`~chronik.records.Webhook` and its definition); a status and a diverted event with
what the native API tells of them (:class:`WebhookStatus`, :class:`Diverted`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from chronik.client.wire import time
from chronik.records import (
    Endpoint,
    FailureHandling,
    RetryStrategy,
    Webhook,
    WebhookDefinition,
)

if TYPE_CHECKING:
    from chronik.client.core import AsyncClient

UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
"""A webhook's ``created_at``/``updated_at`` when the server's answer does not tell them."""


@dataclass(frozen=True, slots=True)
class Retrying:
    """The event a webhook is retrying now: failed, not yet for good."""

    sequence: int
    failure_count: int
    error: str
    retry_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    """Where a webhook's delivery stands: the embedded
    :class:`~chronik.webhooks.WebhookStatus`'s attributes, with the webhook's locator for
    the webhook itself."""

    locator: str
    position: int
    head: int
    lag: int
    retrying: Retrying | None
    diverted: int
    node: str | None


@dataclass(frozen=True, slots=True)
class Diverted:
    """An event whose delivery failed for good and was kept (``divert``)."""

    event_locator: str
    request_locator: str
    failure_message: str
    failure_timestamp: datetime
    failure_trigger: str


class Change(Protocol):
    """What :meth:`RemoteWebhooks.update` reads of a change: the attributes of
    :class:`chronik.webhooks.WebhookChange`, which is one; only what is given changes."""

    @property
    def name(self) -> str | None: ...
    @property
    def enabled(self) -> bool | None: ...
    @property
    def endpoint(self) -> dict[str, Any] | None: ...
    @property
    def add_triggers(self) -> Sequence[str]: ...
    @property
    def remove_triggers(self) -> Sequence[str]: ...
    @property
    def alert_endpoint(self) -> Endpoint | None: ...
    @property
    def remove_alert_endpoint(self) -> bool: ...
    @property
    def retry_strategy(self) -> Any: ...
    @property
    def remove_retry_strategy(self) -> bool: ...
    @property
    def divert(self) -> bool | None: ...
    @property
    def suspend(self) -> bool | None: ...
    @property
    def event_types(self) -> Sequence[str] | None: ...
    @property
    def add_event_types(self) -> Sequence[str]: ...
    @property
    def remove_event_types(self) -> Sequence[str]: ...


class RemoteWebhooks:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, tenant_id: str, definition: WebhookDefinition) -> Webhook:
        """A new webhook, delivering the events appended from now on. Its endpoint's
        secret is in this answer only (made by the server unless given)."""
        await self._client.check_tenant(tenant_id)
        body = {
            "name": definition.name,
            "enabled": definition.enabled,
            "endpoint": endpoint(definition.endpoint),
            "failureHandling": failure_handling(definition.failure_handling),
            "eventTypes": list(definition.event_types),
        }
        return webhook(tenant_id, await self._client.call("POST", ROOT, json=body, safe=False))

    async def get(self, tenant_id: str, locator: str) -> Webhook:
        await self._client.check_tenant(tenant_id)
        return webhook(tenant_id, await self._client.call("GET", _path(locator), safe=True))

    async def find(
        self,
        tenant_id: str,
        *,
        offset: int = 0,
        count: int = 100,
        name: str | None = None,
        enabled: bool | None = None,
        suspended: bool | None = None,
        active: bool | None = None,
        event_types: Sequence[str] = (),
    ) -> tuple[list[Webhook], bool]:
        """A page of the tenant's webhooks (oldest first) that pass every filter given, and
        whether it is the last one."""
        await self._client.check_tenant(tenant_id)
        params: dict[str, Any] = {"offset": offset, "count": count}
        for key, value in (
            ("name", name),
            ("enabled", enabled),
            ("suspended", suspended),
            ("active", active),
        ):
            if value is not None:
                params[key] = str(value).lower() if isinstance(value, bool) else value
        if event_types:
            params["eventTypes"] = list(event_types)
        found = await self._client.call("GET", ROOT, params=params, safe=True)
        return [webhook(tenant_id, h) for h in found["items"]], bool(found["listCompleted"])

    async def update(self, tenant_id: str, locator: str, change: Change) -> Webhook:
        """Change what ``change`` gives (a :class:`chronik.webhooks.WebhookChange`)."""
        await self._client.check_tenant(tenant_id)
        found = await self._client.call("PATCH", _path(locator), json=_change(change), safe=False)
        return webhook(tenant_id, found)

    async def unsuspend(self, tenant_id: str, locator: str) -> Webhook:
        """Deliver again, from the event it stopped at; a webhook that is not suspended
        stays as it is."""
        await self._client.check_tenant(tenant_id)
        path = f"{_path(locator)}/unsuspend"
        return webhook(tenant_id, await self._client.call("PATCH", path, safe=True))

    async def delete(self, tenant_id: str, locator: str) -> None:
        """Remove a webhook with its position and diverted events."""
        await self._client.check_tenant(tenant_id)
        await self._client.call("DELETE", _path(locator), safe=False)

    async def status(self, tenant_id: str, locator: str) -> WebhookStatus:
        await self._client.check_tenant(tenant_id)
        d = await self._client.call("GET", f"{_path(locator)}/status", safe=True)
        r = d.get("retrying")
        retrying = None
        if r is not None:
            at = r.get("retryAt")
            retrying = Retrying(
                int(r["eventSequence"]), r["failureCount"], r["error"], time(at) if at else None
            )
        return WebhookStatus(
            locator=d["locator"],
            position=int(d["position"]),
            head=int(d["head"]),
            lag=int(d["lag"]),
            retrying=retrying,
            diverted=d["diverted"],
            node=d.get("node"),
        )

    async def diverted(
        self, tenant_id: str, locator: str, *, offset: int = 0, count: int = 100
    ) -> list[Diverted]:
        """The webhook's diverted events, oldest event first."""
        await self._client.check_tenant(tenant_id)
        params = {"offset": offset, "count": count}
        found = await self._client.call(
            "GET", f"{_path(locator)}/diverted", params=params, safe=True
        )
        return [_diverted(d) for d in found]

    async def diverted_event(self, tenant_id: str, locator: str, event_locator: str) -> Diverted:
        await self._client.check_tenant(tenant_id)
        path = _diverted_path(locator, event_locator)
        return _diverted(await self._client.call("GET", path, safe=True))

    async def resend(self, tenant_id: str, locator: str, event_locator: str) -> None:
        """Deliver a diverted event again now: on success its record goes; on failure it
        stays, and :class:`~chronik.errors.DeliveryFailed` says why."""
        await self._client.check_tenant(tenant_id)
        path = f"{_diverted_path(locator, event_locator)}/resend"
        await self._client.call("POST", path, safe=False)

    async def delete_diverted(self, tenant_id: str, locator: str, event_locator: str) -> None:
        await self._client.check_tenant(tenant_id)
        path = _diverted_path(locator, event_locator)
        await self._client.call("DELETE", path, safe=False)


ROOT = "/v1/webhooks"


def _path(locator: str) -> str:
    return f"{ROOT}/{quote(locator, safe='')}"


def _diverted_path(locator: str, event_locator: str) -> str:
    return f"{_path(locator)}/diverted/{quote(event_locator, safe='')}"


_ENDPOINT_NAMES = {"hmac_enabled": "hmacEnabled", "secure_ssl": "secureSsl"}


def endpoint(e: Endpoint) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": e.url,
        "hmacEnabled": e.hmac_enabled,
        "secureSsl": e.secure_ssl,
        "tag": e.tag,
        "headers": e.headers,
    }
    if e.secret is not None:
        body["secret"] = e.secret
    return body


def retry_strategy(r: RetryStrategy) -> dict[str, Any]:
    return {"retries": r.retries, "intervalSeconds": r.interval_seconds, "pattern": r.pattern}


def failure_handling(f: FailureHandling) -> dict[str, Any]:
    body: dict[str, Any] = {"triggers": list(f.triggers), "divert": f.divert, "suspend": f.suspend}
    if f.alert_endpoint is not None:
        body["alertEndpoint"] = endpoint(f.alert_endpoint)
    if f.retry_strategy is not None:
        body["retryStrategy"] = retry_strategy(f.retry_strategy)
    return body


def _change(c: Change) -> dict[str, Any]:
    """An UpdateWebhookRequest: only what the change gives."""
    body: dict[str, Any] = {}
    if c.name is not None:
        body["name"] = c.name
    if c.enabled is not None:
        body["enabled"] = c.enabled
    if c.endpoint:
        body["endpoint"] = {_ENDPOINT_NAMES.get(k, k): v for k, v in c.endpoint.items()}
    handling: dict[str, Any] = {}
    if c.add_triggers:
        handling["addTriggers"] = list(c.add_triggers)
    if c.remove_triggers:
        handling["removeTriggers"] = list(c.remove_triggers)
    if c.alert_endpoint is not None:
        handling["alertEndpoint"] = endpoint(c.alert_endpoint)
    if c.remove_alert_endpoint:
        handling["removeAlertEndpoint"] = True
    if c.retry_strategy is not None:
        handling["retryStrategy"] = retry_strategy(c.retry_strategy)
    if c.remove_retry_strategy:
        handling["removeRetryStrategy"] = True
    if c.divert is not None:
        handling["divert"] = c.divert
    if c.suspend is not None:
        handling["suspend"] = c.suspend
    if handling:
        body["failureHandling"] = handling
    if c.event_types is not None:
        body["eventTypes"] = list(c.event_types)
    if c.add_event_types:
        body["addEventTypes"] = list(c.add_event_types)
    if c.remove_event_types:
        body["removeEventTypes"] = list(c.remove_event_types)
    return body


def _endpoint(d: dict[str, Any]) -> Endpoint:
    return Endpoint(
        url=d["url"],
        hmac_enabled=d.get("hmacEnabled", False),
        secret=d.get("secret"),
        secure_ssl=d.get("secureSsl", True),
        tag=d.get("tag") or "",
        headers=d.get("headers") or {},
    )


def webhook(tenant_id: str, d: dict[str, Any]) -> Webhook:
    """A WebhookResponse. It tells when the webhook was suspended, not when it was made or
    changed: those are read when the answer has them (``createdAt``, ``updatedAt``), else
    :data:`UNKNOWN_TIME`."""
    f = d.get("failureHandling") or {}
    alert, retry = f.get("alertEndpoint"), f.get("retryStrategy")
    handling = FailureHandling(
        triggers=tuple(f.get("triggers", FailureHandling().triggers)),
        alert_endpoint=_endpoint(alert) if alert else None,
        retry_strategy=RetryStrategy(
            retries=retry["retries"],
            interval_seconds=retry["intervalSeconds"],
            pattern=retry["pattern"],
        )
        if retry
        else None,
        divert=f.get("divert", False),
        suspend=f.get("suspend", False),
    )
    definition = WebhookDefinition(
        name=d["name"],
        endpoint=_endpoint(d["endpoint"]),
        enabled=d["enabled"],
        failure_handling=handling,
        event_types=tuple(d.get("eventTypes") or ()),
    )
    created = time(d["createdAt"]) if d.get("createdAt") else UNKNOWN_TIME
    return Webhook(
        locator=d["locator"],
        tenant_id=tenant_id,
        definition=definition,
        created_at=created,
        updated_at=time(d["updatedAt"]) if d.get("updatedAt") else created,
        suspended_at=time(d["suspendedAt"]) if d.get("suspendedAt") else None,
    )


def _diverted(d: dict[str, Any]) -> Diverted:
    return Diverted(
        event_locator=d["eventLocator"],
        request_locator=d["requestLocator"],
        failure_message=d["failureMessage"],
        failure_timestamp=time(d["failureTimestamp"]),
        failure_trigger=d["failureTrigger"],
    )
