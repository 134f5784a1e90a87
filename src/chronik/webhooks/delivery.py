"""One delivery: an event's body POSTed to an endpoint, signed as Standard Webhooks says,
to an address checked just before connecting.

Only public addresses are reached, unless the operator's allow-list names the host (any
port) or ``host:port`` (that port). The check is made on the resolved address, and the
connection goes to exactly that address (a second lookup cannot answer differently), so a
name that later resolves to 127.0.0.1 reaches nothing. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from chronik.errors import InvalidArgument
from chronik.hosts import allowed_host, public
from chronik.records import Endpoint
from chronik.webhooks.model import TIMEOUT, secret_key

USER_AGENT = "Chronik-Webhooks/1"
_RESPONSE_BYTES = 64 * 1024
"""Of a receiver's answer, this much is read (the rest is not our business)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """``trigger`` is None when delivered (a 2xx), else the status code as text or
    ``timeout`` (no answer in time, or no connection); ``message`` says what happened."""

    trigger: str | None
    message: str
    status: int | None = None


class Destinations:
    """The operator's allow-list, and the check of a URL against it."""

    def __init__(self, allowed: Sequence[str] = ()) -> None:
        self._allowed = [allowed_host(e, "webhooks may deliver to") for e in allowed]

    def _listed(self, host: str, port: int) -> bool:
        return any(h == host and p in (None, port) for h, p in self._allowed)

    async def address(self, url: str) -> tuple[str, int]:
        """The address to connect to for ``url``; :class:`InvalidArgument` when it resolves
        to none, or to an address that is not public and the host is not allowed."""
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            raise InvalidArgument(f"{host} does not resolve: {exc}", field="url") from None
        addresses = [str(info[4][0]) for info in found]
        if not addresses:
            raise InvalidArgument(f"{host} does not resolve", field="url")
        if self._listed(host, port):
            return addresses[0], port
        refused = [a for a in addresses if not public(a)]
        if refused:
            raise InvalidArgument(
                f"{host} resolves to {refused[0]}, which is not a public address: the operator "
                "may allow it with --webhook-allowed-hosts",
                field="url",
            )
        return addresses[0], port


def signature(secret: str, message_id: str, stamp: int, body: bytes) -> str:
    """Standard Webhooks' ``webhook-signature``: ``v1,`` and the base64 of HMAC-SHA256 of
    ``id.timestamp.body`` with the secret's key."""
    signed = f"{message_id}.{stamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Deliverer:
    """POSTs bodies to endpoints; one per process, its connections kept alive between
    deliveries."""

    def __init__(self, destinations: Destinations, *, timeout: float = 10.0) -> None:
        self.destinations = destinations
        self.timeout = timeout
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self._clients = {
            verify: httpx.AsyncClient(
                verify=verify, follow_redirects=False, limits=limits, trust_env=False
            )
            for verify in (True, False)
        }

    async def post(self, endpoint: Endpoint, body: bytes, message_id: str) -> Outcome:
        """Deliver ``body`` once; never raises for what the receiver or the network did."""
        try:
            address, port = await self.destinations.address(endpoint.url)
        except InvalidArgument as exc:
            return Outcome(TIMEOUT, f"not sent: {exc.message}")
        parts = urllib.parse.urlsplit(endpoint.url)
        host = f"[{address}]" if ":" in address else address
        target = parts._replace(netloc=f"{host}:{port}").geturl()
        stamp = int(time.time())
        headers: list[tuple[str, str]] = [
            ("host", parts.netloc.rpartition("@")[2]),
            ("content-type", "application/json"),
            ("user-agent", USER_AGENT),
            ("webhook-id", message_id),
            ("webhook-timestamp", str(stamp)),
        ]
        if endpoint.hmac_enabled and endpoint.secret:
            headers.append(
                ("webhook-signature", signature(endpoint.secret, message_id, stamp, body))
            )
        headers += [(name, value) for name, values in endpoint.headers.items() for value in values]
        client = self._clients[endpoint.secure_ssl]
        request = client.build_request(
            "POST",
            target,
            content=body,
            headers=headers,
            extensions={"sni_hostname": parts.hostname or ""},
            timeout=self.timeout,
        )
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read > _RESPONSE_BYTES:
                            break
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(TIMEOUT, f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(TIMEOUT, f"no connection: {exc or type(exc).__name__}")
        status = response.status_code
        reason = response.reason_phrase or ""
        if 200 <= status < 300:
            return Outcome(None, f"{status} {reason}".strip(), status)
        return Outcome(str(status), f"{status} {reason}".strip(), status)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
