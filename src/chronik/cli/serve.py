"""``chronik serve``: the HTTP API (and, as they arrive, the workers), in one process or
in several sharing the port."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from chronik.auth.bootstrap import FILE_NAME, bootstrap
from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantDatabasesOption,
    ViewsOption,
    WebhookAllowedHostsOption,
    WebhookTimeoutOption,
    run,
    say,
    settings_from,
)
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    oidc_issuer: Annotated[
        str, typer.Option(envvar="CHRONIK_OIDC_ISSUER", help="Accept JWTs of this issuer.")
    ] = "",
    oidc_audience: Annotated[
        str,
        typer.Option(
            envvar="CHRONIK_OIDC_AUDIENCE",
            help="Accept only JWTs whose aud claim holds this audience (default: any).",
        ),
    ] = "",
    oidc_jwks_url: Annotated[
        str, typer.Option(envvar="CHRONIK_OIDC_JWKS_URL", help="The issuer's JWKS URL.")
    ] = "",
    console_oidc_client_id: Annotated[
        str,
        typer.Option(
            envvar="CHRONIK_CONSOLE_OIDC_CLIENT_ID",
            help="Let the console sign in with the OIDC issuer as this client (its secret, "
            "for a confidential client, from CHRONIK_CONSOLE_OIDC_CLIENT_SECRET).",
            show_default=False,
        ),
    ] = "",
    console_oidc_scopes: Annotated[
        str,
        typer.Option(
            envvar="CHRONIK_CONSOLE_OIDC_SCOPES",
            help="The scopes the console asks the issuer for, space separated.",
        ),
    ] = "openid profile email",
    console_public_url: Annotated[
        str,
        typer.Option(
            envvar="CHRONIK_CONSOLE_PUBLIC_URL",
            metavar="URL",
            help="Where browsers reach this server, up to /console (for the console's OIDC "
            "redirect URI behind a proxy; default: the request's own).",
            show_default=False,
        ),
    ] = "",
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body accepted (413 above).", min=1)
    ] = 4 * 1024 * 1024,
    header_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a connection may take to send a request's headers; then it is closed.",
            min=0.1,
        ),
    ] = 10.0,
    max_connections: Annotated[
        int,
        typer.Option(
            help="Open connections per server process; one more is answered 503 and closed "
            "(keep it under the open-file limit, ulimit -n).",
            min=1,
        ),
    ] = 1000,
    grpc_port: Annotated[
        int | None,
        typer.Option(
            envvar="CHRONIK_GRPC_PORT",
            help="Also serve ZITADEL's AdminService over gRPC on this port (off by default).",
            min=0,
            max=65535,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port (one per core is a good start; on SQLite "
            "they share the file's single write lock).",
        ),
    ] = 1,
    views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
    webhook_allowed_hosts: WebhookAllowedHostsOption = "",
    webhook_timeout: WebhookTimeoutOption = 5.0,
    tenant_databases: TenantDatabasesOption = "",
) -> None:
    """Serve the HTTP APIs, run the views, fire due schedules and deliver webhooks.

    The APIs are the ZITADEL-compatible, the Socotra-compatible and the native one. The first
    start creates the tenant 'default' and a bootstrap admin token, printed once
    and written to DATA/bootstrap-token (mode 0600); CHRONIK_BOOTSTRAP_TOKEN, if set then,
    becomes that token. OpenAPI is at /openapi.json, its docs at /docs.
    """
    settings = dataclasses.replace(
        settings_from(
            data,
            database_url,
            views,
            create=True,
            webhook_allowed_hosts=webhook_allowed_hosts,
            tenant_databases=tenant_databases,
        ),
        webhook_timeout_seconds=webhook_timeout,
        bootstrap_token=os.environ.get("CHRONIK_BOOTSTRAP_TOKEN") or None,
        oidc_issuer=oidc_issuer,
        oidc_audience=oidc_audience,
        oidc_jwks_url=oidc_jwks_url,
        console_oidc_client_id=console_oidc_client_id,
        console_oidc_client_secret=os.environ.get("CHRONIK_CONSOLE_OIDC_CLIENT_SECRET", ""),
        console_oidc_scopes=console_oidc_scopes,
        console_public_url=console_public_url,
        max_body_bytes=max_body_bytes,
        listen_port=port,
        listen_host=host,
        grpc_port=grpc_port,
        header_timeout_seconds=header_timeout,
        max_connections=max_connections,
    )
    if oidc_issuer and not oidc_jwks_url:
        say("error: --oidc-issuer needs --oidc-jwks-url")
        raise typer.Exit(1)
    if console_oidc_client_id and not oidc_issuer:
        say("error: --console-oidc-client-id needs --oidc-issuer")
        raise typer.Exit(1)
    if grpc_port is not None and grpc_port == port != 0:
        say(f"error: --grpc-port must differ from --port ({port})")
        raise typer.Exit(1)
    _check_address(host, port)
    if grpc_port is not None:
        _check_address(host, grpc_port)
    token = run(lambda: _first_start(settings))
    if token:
        say(f"bootstrap admin token (shown once; also in {settings.data_dir / FILE_NAME}):")
        say(f"  {token}")
    from chronik.cli.connections import GuardedConfig

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "lifespan": "on",
        "timeout_graceful_shutdown": 30,
        "server_header": False,
        "header_timeout": settings.header_timeout_seconds,
        "max_connections": settings.max_connections,
    }
    if workers == 1:
        _server(GuardedConfig(_app(settings), **options)).run()
        return
    from uvicorn.supervisors import Multiprocess

    os.environ[SETTINGS_VARIABLE] = encode_settings(
        dataclasses.replace(settings, bootstrap_token=None)
    )
    config = GuardedConfig(f"{__name__}:worker_app", factory=True, workers=workers, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()


CANNOT_LISTEN = 3
"""Exit code of ``serve`` when it cannot listen on its address (uvicorn's own code for a
start that failed, so a lost race with another process ends the same way)."""


def _check_address(host: str, port: int) -> None:
    """Refuse, in one line and before the database is touched, an address this process
    cannot listen on (a port in use, a host not of this machine); uvicorn would log it
    among its start-up lines."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            say(f"error: cannot listen on {host}:{port}: {(exc.strerror or str(exc)).lower()}")
            raise typer.Exit(CANNOT_LISTEN) from None


def _server(config: Any) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises the SIGTERM it caught once it has shut down, so the process
        would die by the signal; a graceful stop asked for by a signal is a success."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return Server(config)


def _app(settings: Settings) -> Any:
    from chronik.api import create_app

    app = create_app(settings)
    # Everything built so far (the app, its routes and schemas, the imported modules) lives
    # as long as the process: move it out of the collector's sight, so that a full
    # collection walks only what requests leave behind (tens of milliseconds less in the
    # latency tail).
    gc.collect()
    gc.freeze()
    return app


SETTINGS_VARIABLE = "CHRONIK_SERVE_SETTINGS"
"""Carries the settings, as :func:`encode_settings` writes them, to :func:`worker_app`."""


def worker_app() -> Any:
    """The app of one worker process of ``serve --workers N`` (or of another ASGI server,
    as ``bench.http`` runs one): the settings come through the environment, and the first
    start already happened."""
    return _app(_decode(os.environ[SETTINGS_VARIABLE]))


def encode_settings(settings: Settings) -> str:
    """``settings`` as the value of :data:`SETTINGS_VARIABLE`."""
    fields = dataclasses.asdict(settings)
    fields["data_dir"] = str(settings.data_dir)
    return json.dumps(fields)


def _decode(text: str) -> Settings:
    fields = json.loads(text)
    fields["data_dir"] = Path(fields["data_dir"])
    fields["views"] = tuple(fields["views"])
    fields["tenant_databases"] = tuple(fields["tenant_databases"])
    return Settings(**fields)


async def _first_start(settings: Settings) -> str | None:
    async with await Chronik.open(settings) as chronik:
        tenant = await chronik.default_tenant()
        return await bootstrap(chronik.tokens, tenant, settings.data_dir, settings.bootstrap_token)
