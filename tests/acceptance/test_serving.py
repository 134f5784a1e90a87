"""``chronik serve`` under faults and hostile clients: a PostgreSQL outage seen by
``/readyz``, connections that never finish their headers, more connections than the server
keeps, and clients that leave in the middle of a request."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.acceptance.conftest import Start
from tests.acceptance.server import Server

PROBE_SECONDS = 3.0
"""The client timeout of a readiness probe: a probe that hangs past it fails the test."""
WAIT_SECONDS = 10.0
"""The most a test waits for something the server does by itself (generous: the bounds are
1 s to 2 s, and the machine is shared)."""


class Proxy:
    """A TCP proxy in front of PostgreSQL that can be cut (its connections closed, new ones
    refused) and restored on the same port, as a database outage looks to the server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.restore()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        assert self.listener is not None
        with self.lock:
            for s in [self.listener, *self.sockets]:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
                s.close()
            self.sockets.clear()
        self.listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {WAIT_SECONDS} s"
        time.sleep(0.05)


@pytest.mark.parametrize("backend", ["postgres"])
def test_readyz_answers_503_at_once_during_a_postgres_outage_and_200_soon_after(
    start: Start, data: Path, database_url: str
) -> None:
    url = urlsplit(database_url)
    proxy = Proxy((url.hostname or "127.0.0.1", url.port or 5432))
    user = f"{url.username}@" if url.username else ""
    server = start(data, database_url=url._replace(netloc=user + proxy.address).geturl())
    with httpx.Client(base_url=server.url, timeout=PROBE_SECONDS) as client:
        assert client.get("/readyz").status_code == 200

        proxy.cut()
        # More probes than the pool holds connections: the pooled ones die on first use, and
        # then a pool has none to give and waits for one. No probe may hang (that raises).
        for _ in range(12):
            response = client.get("/readyz")
            assert response.status_code == 503, response.text
            assert response.json()["status"] == "unavailable"

        proxy.restore()
        _until(lambda: client.get("/readyz").status_code == 200, "/readyz answers 200 again")


def _connect(server: Server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(WAIT_SECONDS)
    return s


def _closed_by_server(s: socket.socket) -> bytes:
    """What the server sent before it closed ``s`` (a timeout fails the test)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := s.recv(4096):
            received += chunk
    return received


# The next two run on the embedded database only: what they check happens before a request
# reaches the database.


def test_slow_headers_are_cut_off_and_connections_past_the_cap_refused(
    start: Start, data: Path
) -> None:
    server = start(data, args=["--header-timeout", "2", "--max-connections", "20"])
    # Slowloris: a request whose headers trickle in, a line every 0.2 s, is closed (with a
    # 408) however long the client keeps trickling.
    slow = _connect(server)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: chronik\r\n")
    deadline = time.monotonic() + WAIT_SECONDS
    with pytest.raises(OSError):
        while time.monotonic() < deadline:
            slow.sendall(b"X-Trickle: 1\r\n")
            time.sleep(0.2)
    slow.close()

    # Twenty silent connections fill the server; the next one is refused with a 503 ...
    silent = [_connect(server) for _ in range(20)]
    refused = _connect(server)
    refused.sendall(b"GET /healthz HTTP/1.1\r\nHost: chronik\r\n\r\n")
    answer = _closed_by_server(refused)
    refused.close()
    assert answer.startswith(b"HTTP/1.1 503 "), answer
    assert b"too many open connections" in answer
    # ... the silent ones are closed when their header time is up, without a word ...
    for s in silent:
        assert _closed_by_server(s) == b""
        s.close()
    # ... and then the server serves again.
    with httpx.Client(base_url=server.url, timeout=PROBE_SECONDS) as client:
        assert client.get("/healthz").status_code == 200


def test_a_client_gone_mid_body_counts_as_499_and_logs_no_error(start: Start, data: Path) -> None:
    server = start(data)
    token = (data / "bootstrap-token").read_text().strip()
    gone = _connect(server)
    gone.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: chronik\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
        b'{"events": [{"aggregateType": "order", '
    )
    gone.close()

    counted = re.compile(
        r'chronik_http_requests_total\{method="POST",route="/v1/events",status="(\d+)"\} (\S+)'
    )
    with httpx.Client(base_url=server.url, timeout=PROBE_SECONDS) as client:

        def statuses() -> dict[str, float]:
            return {s: float(n) for s, n in counted.findall(client.get("/metrics").text)}

        _until(lambda: statuses() != {}, "the request is counted")
        assert statuses() == {"499": 1.0}
    assert "Traceback" not in server.stderr()
    assert "unexpected error" not in server.stderr()
