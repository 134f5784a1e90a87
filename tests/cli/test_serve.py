"""``chronik serve`` refusing to start: what the person at the terminal sees."""

from __future__ import annotations

import socket
from pathlib import Path

from chronik import Settings
from tests.cli.conftest import Cli


def test_a_port_in_use_exits_3_with_one_line_and_creates_nothing(tmp_path: Path) -> None:
    cli = Cli(Settings(data_dir=tmp_path / "data"), create=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = cli("serve", "--port", str(port), code=3)
    assert refused.stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert not (tmp_path / "data").exists()


def test_a_grpc_port_in_use_exits_3_with_one_line_and_creates_nothing(tmp_path: Path) -> None:
    cli = Cli(Settings(data_dir=tmp_path / "data"), create=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = cli("serve", "--port", "0", "--grpc-port", str(port), code=3)
    assert refused.stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert not (tmp_path / "data").exists()


def test_a_console_oidc_client_without_an_issuer_exits_1_and_creates_nothing(
    tmp_path: Path,
) -> None:
    cli = Cli(Settings(data_dir=tmp_path / "data"), create=False)
    refused = cli("serve", "--port", "0", "--console-oidc-client-id", "console", code=1)
    assert refused.stderr == "error: --console-oidc-client-id needs --oidc-issuer\n"
    assert not (tmp_path / "data").exists()
