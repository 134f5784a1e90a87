"""The async remote client: HTTP calls to the native API, retried where that is safe."""

from __future__ import annotations

import asyncio
import random
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from chronik.client import wire
from chronik.client.groups import RemoteGroups
from chronik.client.schedules import RemoteSchedules
from chronik.client.services import RemoteEvents, RemoteViews
from chronik.client.tokens import RemoteTokens
from chronik.client.webhooks import RemoteWebhooks
from chronik.errors import InvalidArgument, Unavailable

RETRIED_STATUSES = wire.RETRIED_STATUSES
STREAM_READ_TIMEOUT = 60.0
"""How long a live stream may stay silent before it counts as lost: the server sends a
heartbeat every 15 s by default."""
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request reached the server: any call may be sent again."""
_LOST = (
    httpx.ReadTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
)
"""Failures after the request may have reached the server: only a call that is safe to
repeat (a read, an append with its request id) is sent again."""


class AsyncClient:
    """Chronik over HTTP: ``async with AsyncClient(url, token=...) as chronik:``.

    ``chronik.events``, ``.views``, ``.schedules``, ``.tokens``, ``.webhooks`` and ``.groups``
    take the calls of the embedded API's services (:class:`~chronik.services.Chronik`), with
    the same arguments, records and errors, where the native HTTP API has them; the tenant
    is the token's (:meth:`tenant_id`), and naming another one is refused.
    ``timeout`` bounds each attempt (seconds); a call that is safe to repeat is tried up to
    ``retries`` more times on a network failure or a 502/503/504, after a backoff that
    doubles from ``backoff`` up to ``max_backoff`` seconds. ``transport`` replaces httpx's
    network transport (tests, proxies).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._tenant_id: str | None = None
        self.events = RemoteEvents(self)
        self.views = RemoteViews(self)
        self.schedules = RemoteSchedules(self)
        self.tokens = RemoteTokens(self)
        self.webhooks = RemoteWebhooks(self)
        self.groups = RemoteGroups(self)

    async def me(self) -> dict[str, Any]:
        """Who the token is: ``tenantId``, ``organisationId``, ``roles``, ``permissions``."""
        found: dict[str, Any] = await self.call("GET", "/v1/me", safe=True)
        self._tenant_id = found["tenantId"]
        return found

    async def tenant_id(self) -> str:
        """The tenant of the token (asked once)."""
        if self._tenant_id is None:
            await self.me()
        assert self._tenant_id is not None
        return self._tenant_id

    async def check_tenant(self, tenant_id: str) -> None:
        """Refuse a call for another tenant than the token's: the server would answer for
        the token's tenant, whatever the call names."""
        own = await self.tenant_id()
        if tenant_id != own:
            raise InvalidArgument(
                f"this client's token belongs to tenant {own!r}, not {tenant_id!r}",
                field="tenant_id",
            )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        safe: bool,
        wait: float = 0.0,
    ) -> Any:
        """The decoded answer of one call, or the error its answer stands for. ``safe``:
        the call may be repeated (it changes nothing, or the server recognises a repeat);
        ``wait``: seconds the server may take on purpose before answering (a read that
        waits for a view), on top of ``timeout``."""
        timeout = httpx.Timeout(self._timeout + wait) if wait else httpx.USE_CLIENT_DEFAULT
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, path, json=json, params=params, timeout=timeout
                )
            except _NOT_SENT as exc:
                failure: Exception = exc
            except _LOST as exc:
                if not safe:
                    raise Unavailable(f"{method} {path}: {exc!r}; it may have been done") from exc
                failure = exc
            else:
                if not (safe and response.status_code in RETRIED_STATUSES):
                    return _answer(response)
                failure = wire.error(response.status_code, _body(response), response.text)
            if attempt >= self._retries:
                if isinstance(failure, Unavailable):
                    raise failure
                raise Unavailable(
                    f"{method} {path} failed {attempt + 1} times; last: {failure!r}"
                ) from failure
            await self.pause(attempt)
            attempt += 1

    def stream(
        self, path: str, *, params: dict[str, Any], headers: dict[str, str]
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """An open ``GET`` response to read as it arrives (a live stream): ``timeout`` for
        connecting, :data:`STREAM_READ_TIMEOUT` between reads."""
        timeout = httpx.Timeout(self._timeout, read=max(self._timeout, STREAM_READ_TIMEOUT))
        return self._http.stream("GET", path, params=params, headers=headers, timeout=timeout)

    async def pause(self, attempt: int) -> None:
        """The backoff before attempt ``attempt + 1``: doubling from ``backoff`` up to
        ``max_backoff`` seconds, jittered."""
        delay = min(self._backoff * 2**attempt, self._max_backoff)
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _answer(response: httpx.Response) -> Any:
    if response.is_success:
        return _body(response) if response.content else None
    raise wire.error(response.status_code, _body(response), response.text)
