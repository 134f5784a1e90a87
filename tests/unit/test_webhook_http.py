"""The deliveries' HTTP client against real servers on 127.0.0.1: kept-alive connections
(and a new one when the receiver closed the old), answers of every framing, TLS with and
without certificate checks, and answers that are no HTTP."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chronik.webhooks.http import Client


async def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@contextmanager
def serving(
    answer: Callable[[socket.socket, bytes], bool], context: ssl.SSLContext | None = None
) -> Iterator[tuple[int, list[int]]]:
    """A raw server: ``answer(connection, request)`` writes the answer and says whether to
    keep the connection. Yields the port and the number of requests per connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    per_connection: list[int] = []

    def handle(connection: socket.socket) -> None:
        per_connection.append(0)
        mine = len(per_connection) - 1
        with connection:
            pending = b""
            while True:
                try:
                    data = connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                pending += data
                head, found, rest = pending.partition(b"\r\n\r\n")
                if not found:
                    continue
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    continue
                pending = rest[length:]
                per_connection[mine] += 1
                if not answer(connection, head):
                    return

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            if context is not None:
                try:
                    connection = context.wrap_socket(connection, server_side=True)
                except (ssl.SSLError, OSError):
                    connection.close()
                    continue
            threading.Thread(target=handle, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port, per_connection
    finally:
        listener.close()


def ok(connection: socket.socket, request: bytes) -> bool:
    connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    return True


async def test_a_connection_is_kept_and_a_closed_one_replaced() -> None:
    with serving(ok) as (port, per_connection):
        client = Client(loopback)
        for _ in range(3):
            assert await client.post(f"http://127.0.0.1:{port}/a", [], b"{}") == (
                204,
                "No Content",
            )
        assert per_connection == [3]
        await client.close()

    def once(connection: socket.socket, request: bytes) -> bool:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return False  # closes after every answer, although HTTP/1.1 keeps

    with serving(once) as (port, per_connection):
        client = Client(loopback)
        for _ in range(3):
            assert (await client.post(f"http://127.0.0.1:{port}/", [], b"{}"))[0] == 200
        assert per_connection == [1, 1, 1]
        await client.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nbusy\r\n0\r\n\r\n",
        b"HTTP/1.0 503 Service Unavailable\r\n\r\nuntil the connection ends",
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 200000\r\n\r\n" + b"x" * 200000,
    ],
    ids=["chunked", "to-the-end", "too-long"],
)
async def test_answers_of_every_framing_give_their_status(answer: bytes) -> None:
    def send(connection: socket.socket, request: bytes) -> bool:
        connection.sendall(answer)
        return not answer.startswith(b"HTTP/1.0")

    with serving(send) as (port, _):
        client = Client(loopback)
        assert await client.post(f"http://127.0.0.1:{port}/", [], b"{}") == (
            503,
            "Service Unavailable",
        )
        await client.close()


async def test_an_answer_that_is_no_http_is_an_error() -> None:
    def garbage(connection: socket.socket, request: bytes) -> bool:
        connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        return False

    with serving(garbage) as (port, _):
        client = Client(loopback)
        with pytest.raises(ConnectionError, match="not an HTTP answer"):
            await client.post(f"http://127.0.0.1:{port}/", [], b"{}")
        await client.close()


def _certificate(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.test")]), False)
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_tls_checks_the_certificate_unless_told_not_to(tmp_path: Path) -> None:
    seen: list[str] = []

    def host(connection: socket.socket, request: bytes) -> bool:
        seen.append(request.split(b"\r\n")[1].decode())
        return ok(connection, request)

    with serving(host, _certificate(tmp_path)) as (port, _):
        client = Client(loopback)
        url = f"https://receiver.test:{port}/hook"
        with pytest.raises(ssl.SSLCertVerificationError):
            await client.post(url, [], b"{}")  # self-signed: no trusted issuer
        assert await client.post(url, [], b"{}", verify=False) == (204, "No Content")
        assert seen == [f"Host: receiver.test:{port}"]
        await client.close()


async def test_a_receiver_that_never_answers_is_cut_off_by_the_caller() -> None:
    def silent(connection: socket.socket, request: bytes) -> bool:
        return True

    with serving(silent) as (port, _):
        client = Client(loopback)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.post(f"http://127.0.0.1:{port}/", [], b"{}")
        await client.close()
