"""``chronik serve`` as an operator runs it: a child process on a free port, reached over a
socket; and the ``chronik`` command next to it.

Each child gets an environment of its own, built from a copy of this process's without any
``CHRONIK_*`` setting of the developer's; this process's ``os.environ`` is never changed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

START_SECONDS = 20.0
"""How long a start may take until /healthz answers."""
STOP_SECONDS = 30.0
"""How long a graceful shutdown may take (uvicorn gives open requests 30 s)."""
CLI_SECONDS = 60.0

Headers = dict[str, str]
_SETTINGS = (
    "CHRONIK_BOOTSTRAP_TOKEN",
    "CHRONIK_DATABASE_URL",
    "CHRONIK_OIDC_ISSUER",
    "CHRONIK_OIDC_AUDIENCE",
    "CHRONIK_OIDC_JWKS_URL",
    "CHRONIK_CONSOLE_OIDC_CLIENT_ID",
    "CHRONIK_CONSOLE_OIDC_CLIENT_SECRET",
    "CHRONIK_CONSOLE_OIDC_SCOPES",
    "CHRONIK_CONSOLE_PUBLIC_URL",
)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env.update(extra or {})
    return env


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def database_options(database_url: str | None) -> list[str]:
    return ["--database-url", database_url] if database_url else []


class Server:
    """One ``chronik serve`` process; its stderr goes to a file, read back by :meth:`stderr`."""

    def __init__(
        self,
        data: Path,
        *,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        workers: int = 1,
        args: Sequence[str] = (),
    ) -> None:
        self.data = data
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        logs = data.parent / "logs"
        logs.mkdir(exist_ok=True)
        self._stderr_path = logs / f"serve-{self.port}.stderr"
        argv = [
            sys.executable,
            "-m",
            "chronik",
            "serve",
            "--data",
            str(data),
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            *database_options(database_url),
            *(["--workers", str(workers)] if workers > 1 else []),
            *args,
        ]
        with open(self._stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=child_env(env),
                cwd=data.parent,
            )

    def stderr(self) -> str:
        return self._stderr_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        """Poll /healthz until it answers 200; fail with the server's stderr otherwise."""
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(base_url=self.url, timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"chronik serve exited with {self.process.returncode}:\n{self.stderr()}"
                    )
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise AssertionError(f"/healthz did not answer within {START_SECONDS} s:\n{self.stderr()}")

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=bearer(token) if token else {}, timeout=10.0)

    def terminate(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code (negative: killed by a
        signal). Fails if the process does not exit in time."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"chronik serve did not exit within {STOP_SECONDS} s of SIGTERM:\n{self.stderr()}"
            ) from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def chronik(
    *args: str, data: Path, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``chronik ARGS --data DATA [--database-url URL]``; it must succeed."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chronik",
            *args,
            "--data",
            str(data),
            *database_options(database_url),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=data.parent,
        timeout=CLI_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done
