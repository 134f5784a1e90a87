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
import ipaddress
import socket
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from chronik.errors import InvalidArgument
from chronik.hosts import allowed_host, public
from chronik.records import Endpoint
from chronik.webhooks.http import DEFAULT_PORTS, Client
from chronik.webhooks.model import TIMEOUT, secret_key

USER_AGENT = "Chronik-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """``trigger`` is None when delivered (a 2xx), else the status code as text or
    ``timeout`` (no answer in time, or no connection); ``message`` says what happened."""

    trigger: str | None
    message: str
    status: int | None = None


class Refused(OSError):
    """A destination the address rules forbid (raised where the connection would be made)."""


class Destinations:
    """The operator's allow-list, and the check of an address against it."""

    def __init__(self, allowed: Sequence[str] = ()) -> None:
        self._allowed = [allowed_host(e, "webhooks may deliver to") for e in allowed]

    def _listed(self, host: str, port: int) -> bool:
        return any(h == host and p in (None, port) for h, p in self._allowed)

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, all of them allowed; :class:`Refused` when
        there is none, or one is not public and the host is not listed."""
        host = host.lower()
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            found = [host]  # a literal needs no lookup
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError) as exc:
                raise Refused(f"{host} does not resolve: {exc}") from None
            found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not found:
            raise Refused(f"{host} does not resolve")
        if not self._listed(host, port):
            for address in found:
                if not public(address):
                    raise Refused(
                        f"{host} resolves to {address}, which is not a public address: the "
                        "operator may allow it with --webhook-allowed-hosts"
                    )
        return found

    async def address(self, url: str) -> tuple[str, int]:
        """The first address to connect to for ``url``; :class:`InvalidArgument` (naming
        the URL) when the rules forbid it."""
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
        try:
            return (await self.addresses(host, port))[0], port
        except Refused as exc:
            raise InvalidArgument(str(exc), field="url") from None


def signature(secret: str, message_id: str, stamp: int, body: bytes) -> str:
    """Standard Webhooks' ``webhook-signature``: ``v1,`` and the base64 of HMAC-SHA256 of
    ``id.timestamp.body`` with the secret's key."""
    signed = f"{message_id}.{stamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Deliverer:
    """POSTs bodies to endpoints; one per process, its connections kept alive between
    deliveries (see :mod:`chronik.webhooks.http` for why its own client)."""

    def __init__(self, destinations: Destinations, *, timeout: float = 10.0) -> None:
        self.destinations = destinations
        self.timeout = timeout
        self._client = Client(destinations.addresses)

    async def post(self, endpoint: Endpoint, body: bytes, message_id: str) -> Outcome:
        """Deliver ``body`` once; never raises for what the receiver or the network did."""
        stamp = int(time.time())
        headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", USER_AGENT),
            ("webhook-id", message_id),
            ("webhook-timestamp", str(stamp)),
        ]
        if endpoint.hmac_enabled and endpoint.secret:
            headers.append(
                ("webhook-signature", signature(endpoint.secret, message_id, stamp, body))
            )
        headers += [(name, value) for name, values in endpoint.headers.items() for value in values]
        try:
            async with asyncio.timeout(self.timeout):
                status, reason = await self._client.post(
                    endpoint.url, headers, body, verify=endpoint.secure_ssl
                )
        except Refused as exc:
            return Outcome(TIMEOUT, f"not sent: {exc}")
        except TimeoutError:
            return Outcome(TIMEOUT, f"no answer within {self.timeout:g} s")
        except (OSError, ValueError) as exc:
            return Outcome(TIMEOUT, f"no connection: {exc or type(exc).__name__}")
        text = f"{status} {reason}".strip()
        if 200 <= status < 300:
            return Outcome(None, text, status)
        return Outcome(str(status), text, status)

    async def close(self) -> None:
        await self._client.close()
