"""The HTTP/1.1 client of deliveries: one POST at a time per connection, connections kept
alive per (scheme, host, port), responses parsed by httptools (uvicorn's C parser).

Why not aiohttp or httpx: a webhook delivers one event after the other, so what one POST
costs on the client is the ceiling of a webhook's rate, and theirs cost twice and seven
times this on this machine (docs/benchmarks.md). What a delivery needs is small: no
redirects, cookies, proxies or compression; the status line, and at most 64 KiB read.

Every new connection goes to an address :class:`~chronik.webhooks.delivery.Destinations`
allowed, looked up for it; TLS checks the certificate against the URL's host.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import httptools

ANSWER_BYTES = 64 * 1024
"""Of a receiver's answer, this much is read (the rest is not our business)."""
DEFAULT_PORTS = {"http": 80, "https": 443}
_IDLE_PER_HOST = 8

Resolve = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: bytes
    """The request target: path and query."""
    authority: bytes
    """The ``Host`` header."""


@lru_cache(maxsize=4096)
def target(url: str) -> Target:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(
        parts.scheme,
        host,
        port,
        path.encode(),
        parts.netloc.rpartition("@")[2].encode("idna"),
    )


class _Answer:
    """httptools' callbacks: the status, whether the connection may be kept (known at the
    end of the headers only), and whether the message ended."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.reason = b""
        self.headers_done = False
        self.keep_alive = False
        self.done = False
        self.body = 0

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body += len(body)

    def on_message_complete(self) -> None:
        self.done = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Client:
    """POSTs over kept-alive HTTP/1.1 connections; ``resolve(host, port)`` gives the
    addresses a new connection may go to (or raises)."""

    def __init__(self, resolve: Resolve) -> None:
        self._resolve = resolve
        self._idle: dict[tuple[str, str, int, bool], list[_Connection]] = {}
        self._contexts: dict[bool, ssl.SSLContext] = {}

    async def post(
        self, url: str, headers: Sequence[tuple[str, str]], body: bytes, *, verify: bool = True
    ) -> tuple[int, str]:
        """The status and reason of the answer to one POST."""
        to = target(url)
        head = b"".join(
            [
                b"POST ",
                to.path,
                b" HTTP/1.1\r\nHost: ",
                to.authority,
                b"\r\n",
                *(f"{name}: {value}\r\n".encode() for name, value in headers),
                b"Content-Length: ",
                str(len(body)).encode(),
                b"\r\n\r\n",
            ]
        )
        key = (to.scheme, to.host, to.port, verify)
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.reader.at_eof():
                connection.close()
                continue
            try:
                return await self._exchange(key, connection, head + body)
            except _Stale:
                continue  # the receiver had closed it: a new one
        connection = await self._connect(to, verify)
        try:
            return await self._exchange(key, connection, head + body)
        except _Stale:
            raise ConnectionResetError("the connection closed before an answer") from None

    async def _connect(self, to: Target, verify: bool) -> _Connection:
        addresses = await self._resolve(to.host, to.port)
        context = self._context(verify) if to.scheme == "https" else None
        error: OSError | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    address,
                    to.port,
                    ssl=context,
                    server_hostname=to.host if context is not None else None,
                    limit=ANSWER_BYTES,
                )
                return _Connection(reader, writer)
            except OSError as exc:
                error = exc
        raise error or OSError(f"{to.host} has no address")

    def _context(self, verify: bool) -> ssl.SSLContext:
        context = self._contexts.get(verify)
        if context is None:
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._contexts[verify] = context
        return context

    async def _exchange(
        self, key: tuple[str, str, int, bool], connection: _Connection, request: bytes
    ) -> tuple[int, str]:
        answer = _Answer()
        parser = answer.parser
        connection.writer.write(request)
        received = False
        try:
            while not answer.done:
                try:
                    data = await connection.reader.read(ANSWER_BYTES)
                except (ConnectionResetError, BrokenPipeError):
                    if received:
                        raise
                    raise _Stale from None
                if not data:
                    if not received:
                        raise _Stale
                    if answer.headers_done:
                        break  # an answer that ends with its connection
                    raise ConnectionResetError("the answer ended before its headers")
                received = True
                parser.feed_data(data)
                if answer.body > ANSWER_BYTES:
                    break
        except httptools.HttpParserError as exc:
            connection.close()
            raise ConnectionError(f"not an HTTP answer: {exc}") from None
        except BaseException:
            connection.close()
            raise
        status = parser.get_status_code()
        if answer.done and answer.keep_alive:
            idle = self._idle.setdefault(key, [])
            if len(idle) < _IDLE_PER_HOST:
                idle.append(connection)
            else:
                connection.close()
        else:
            connection.close()
        return status, answer.reason.decode("latin-1")

    async def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


class _Stale(Exception):
    """A kept-alive connection the receiver had closed: nothing was answered on it."""
