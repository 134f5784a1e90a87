"""What uvicorn does not bound by itself: how long a client may take to send a request's
headers, and how many connections one server process keeps open.

uvicorn closes idle keep-alive connections, but a connection that trickles its headers, or
sends nothing at all, stays open for as long as the client likes (slowloris); and its
``limit_concurrency`` answers 503 only once a request's headers have arrived, so silent
connections pile up until the process runs out of file descriptors. :class:`GuardedHttp`
is uvicorn's httptools protocol with both bounds added where the connection is handled, before
any ASGI code runs; it also tells open streams when the server begins to shut down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chronik.api.subscriptions import SHUTDOWN_HOOKS


def _response(status: bytes, text: bytes, *headers: bytes) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection, written before (or instead of)
    any ASGI request."""
    head = [
        b"HTTP/1.1 " + status,
        b"content-type: text/plain; charset=utf-8",
        b"content-length: " + str(len(text)).encode(),
        *headers,
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + text


REFUSAL = _response(
    b"503 Service Unavailable", b"too many open connections; try again\n", b"retry-after: 1"
)
TOO_SLOW = _response(b"408 Request Timeout", b"the request headers came too slowly\n")
LINGER_SECONDS = 1.0
"""How long a refused connection is kept to read (and drop) what the client sent, so that
closing it does not reset the connection before the client has read the refusal."""


class GuardedConfig(uvicorn.Config):
    """uvicorn's configuration with the two bounds :class:`GuardedHttp` enforces (a module
    level class, so that ``--workers N`` can hand it to its processes)."""

    def __init__(
        self, app: Any, *, header_timeout: float, max_connections: int, **options: Any
    ) -> None:
        super().__init__(app, http=GuardedHttp, **options)
        self.header_timeout = header_timeout
        self.max_connections = max_connections


class GuardedHttp(HttpToolsProtocol):
    """A connection whose request headers are not complete ``header_timeout`` seconds after
    it opened (or after its next request began) is closed, with a 408 if a request had
    begun; a connection past ``max_connections`` open ones gets a :class:`Refusal`.

    A request only notes when its headers are due: one timer per connection, re-armed when
    it fires, checks the note (a timer started and cancelled per request cost 4% of the
    requests per second of ``/healthz``)."""

    def __init__(self, config: GuardedConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout = config.header_timeout
        self.max_connections = config.max_connections
        self.header_timer: asyncio.TimerHandle | None = None
        self.headers_due: float | None = None
        self.request_begun = False
        self.shutdown_hooks: list[Callable[[], None]] = []

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            refusal = Refusal(self.loop)
            transport.set_protocol(refusal)
            refusal.connection_made(transport)
            return
        super().connection_made(transport)
        self.headers_due = self.loop.time() + self.header_timeout
        self.header_timer = self.loop.call_later(self.header_timeout, self.check_headers)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[SHUTDOWN_HOOKS] = self.shutdown_hooks  # type: ignore[literal-required]
        self.request_begun = True
        if self.headers_due is None:
            self.headers_due = self.loop.time() + self.header_timeout

    def on_headers_complete(self) -> None:
        self.headers_due = None
        self.request_begun = False
        super().on_headers_complete()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown waits for open responses: a stream that would never end
        (a live subscription) is told to end now; one whose client stopped reading could not
        even send its end, so its connection is closed."""
        for hook in list(self.shutdown_hooks):
            hook()
        if self.shutdown_hooks and self.flow.write_paused:
            self.transport.close()
        super().shutdown()

    def check_headers(self) -> None:
        if self.transport.is_closing():
            return
        now = self.loop.time()
        due = self.headers_due
        if due is not None and now >= due:
            if self.request_begun:
                self.transport.write(TOO_SLOW)
            self.transport.close()
            return
        wait = self.header_timeout if due is None else due - now
        self.header_timer = self.loop.call_later(wait, self.check_headers)


class Refusal(asyncio.Protocol):
    """A connection past the cap: the 503 is written at once, what the client sends is
    read and dropped, and the connection is closed once the client closes its side or
    after :data:`LINGER_SECONDS`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        transport.write(REFUSAL)
        if transport.can_write_eof():
            transport.write_eof()
        self.timer = self.loop.call_later(LINGER_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
