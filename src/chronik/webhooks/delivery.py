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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

from chronik.errors import InvalidArgument
from chronik.hosts import allowed_host, public
from chronik.records import Endpoint
from chronik.webhooks.model import TIMEOUT, secret_key

USER_AGENT = "Chronik-Webhooks/1"
DEFAULT_PORTS = {"http": 80, "https": 443}
_RESPONSE_BYTES = 64 * 1024
"""Of a receiver's answer, this much is read (the rest is not our business)."""


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


def _checked_resolver(destinations: Destinations) -> aiohttp.abc.AbstractResolver:
    """aiohttp's name lookup, through the address rules: a connection goes only to an
    address they allowed, and TLS still checks the certificate against the URL's host.
    (aiohttp is imported on first delivery: every command line start would pay for it.)"""
    import aiohttp.abc

    class CheckedResolver(aiohttp.abc.AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[Any]:
            return [
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
                for address in await destinations.addresses(host, port)
            ]

        async def close(self) -> None:
            return None

    return CheckedResolver()


def signature(secret: str, message_id: str, stamp: int, body: bytes) -> str:
    """Standard Webhooks' ``webhook-signature``: ``v1,`` and the base64 of HMAC-SHA256 of
    ``id.timestamp.body`` with the secret's key."""
    signed = f"{message_id}.{stamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Deliverer:
    """POSTs bodies to endpoints; one per process, its connections kept alive between
    deliveries (aiohttp: a sequential delivery costs a quarter of what it costs with httpx,
    see docs/benchmarks.md)."""

    def __init__(self, destinations: Destinations, *, timeout: float = 10.0) -> None:
        self.destinations = destinations
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=200,
                limit_per_host=0,
                resolver=_checked_resolver(self.destinations),
                ttl_dns_cache=10,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=False,
                trust_env=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return self._session

    async def post(self, endpoint: Endpoint, body: bytes, message_id: str) -> Outcome:
        """Deliver ``body`` once; never raises for what the receiver or the network did."""
        import aiohttp
        from multidict import CIMultiDict

        stamp = int(time.time())
        headers = CIMultiDict(
            [
                ("Content-Type", "application/json"),
                ("User-Agent", USER_AGENT),
                ("webhook-id", message_id),
                ("webhook-timestamp", str(stamp)),
            ]
        )
        if endpoint.hmac_enabled and endpoint.secret:
            headers["webhook-signature"] = signature(endpoint.secret, message_id, stamp, body)
        for name, values in endpoint.headers.items():
            for value in values:
                headers.add(name, value)
        try:
            await self._literal_checked(endpoint.url)
            async with self._opened().post(
                endpoint.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                ssl=endpoint.secure_ssl,
            ) as response:
                await response.content.read(_RESPONSE_BYTES)
                status, reason = response.status, response.reason or ""
        except Refused as exc:
            return Outcome(TIMEOUT, f"not sent: {exc}")
        except TimeoutError:
            return Outcome(TIMEOUT, f"no answer within {self.timeout:g} s")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, Refused):
                return Outcome(TIMEOUT, f"not sent: {exc.os_error}")
            return Outcome(TIMEOUT, f"no connection: {exc.os_error}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Outcome(TIMEOUT, f"no answer: {exc or type(exc).__name__}")
        text = f"{status} {reason}".strip()
        if 200 <= status < 300:
            return Outcome(None, text, status)
        return Outcome(str(status), text, status)

    async def _literal_checked(self, url: str) -> None:
        """aiohttp asks no resolver about an IP literal: check one here (a name is checked
        by the resolver, where the connection is made)."""
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return
        await self.destinations.addresses(host, parts.port or DEFAULT_PORTS[parts.scheme])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
