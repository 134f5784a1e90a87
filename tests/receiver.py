"""A webhook receiver on 127.0.0.1 for the suites: it records what it is sent and answers as
told (accept, fail with a status, answer slowly, or not at all in time)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chronik.settings import Settings


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    status: int = 200
    """What every answer is, unless ``answers`` says otherwise for the next ones."""
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    """Seconds to wait before answering."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str = "/hook") -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == path]

    def types(self, path: str = "/hook") -> list[str]:
        return [d.json["type"] for d in self.received(path)]

    async def wait_for(
        self, count: int, path: str = "/hook", seconds: float = 10.0
    ) -> list[Delivery]:
        """The deliveries to ``path`` once there are ``count`` of them."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = self.received(path)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.received(path))} of {count} deliveries to {path}")

    def _answer(self, delivery: Delivery) -> int:
        with self._lock:
            self.deliveries.append(delivery)
            return self.answers.pop(0) if self.answers else self.status


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A :class:`Receiver` on a free loopback port until the block ends."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            delivery = Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            status = receiver._answer(delivery)
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender may have given up waiting
                self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    receiver.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def receiving_settings(database_url: str, **more: Any) -> Settings:
    """Settings of a test whose webhooks deliver to the receiver: 127.0.0.1 allowed, given up
    on after half a second, the log followed every 50 ms."""
    return Settings(
        database_url=database_url,
        follow_poll_seconds=0.05,
        webhook_allowed_hosts=("127.0.0.1",),
        webhook_timeout_seconds=0.5,
        **more,
    )
