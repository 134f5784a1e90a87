"""The one settings object, parsed once (by the CLI) and passed down explicitly."""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, Literal

Durability = Literal["OFF", "NORMAL", "FULL"]

DEFAULT_DATA_DIR = Path("chronik-data")


@dataclass(frozen=True, slots=True)
class Settings:
    """How one Chronik process reaches its database and which limits it enforces.

    ``database_url`` picks the backend: ``sqlite:///path/to/file.db`` or
    ``postgresql://...``. When it is empty, the embedded SQLite file under ``data_dir``
    is used.

    Values are checked when constructed, as a caller would naturally give them: a path as
    ``str`` or :class:`~pathlib.Path`, a list where a tuple is kept, an ``int`` for a
    ``float``; anything else is a :class:`TypeError` (a value outside a fixed set, a
    :class:`ValueError`) naming the field.
    """

    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    create_database: bool = True
    """Whether opening may create the database (SQLite file, schema, the ``default``
    tenant). The command line allows it to ``serve``, ``worker`` and ``migrate`` only."""
    sqlite_durability: Durability = "NORMAL"
    max_payload_bytes: int = 1024 * 1024
    max_batch_events: int = 10_000
    search_default_limit: int = 1000
    search_max_limit: int = 5000
    follow_poll_seconds: float = 0.5
    subscribe_queue_events: int = 10_000
    """Events a live subscriber may fall behind by before it is dropped (and told where to
    resume)."""
    subscribe_heartbeat_seconds: float = 15.0
    """Seconds of silence after which a live subscription gets a heartbeat comment."""
    postgres_pool_size: int = 10
    tenant_databases: tuple[str, ...] = ()
    """PostgreSQL databases to place tenants in (``CHRONIK_TENANT_DATABASES``, comma
    separated): ``database_url`` is then the directory that says where each tenant lives,
    and holds the tenants from before (and new ones only if it is named here too)."""
    tenant_move_wait_seconds: float = 30.0
    """How long a write of a tenant being moved waits for the move's cutover."""
    placement_cache_seconds: float = 2.0
    """How long a node keeps where a tenant lives before asking the directory again."""
    views: tuple[str, ...] = ()
    """Views to run besides the installed packages' entry points: ``module:attribute``."""
    view_lease_seconds: float = 10.0
    """How long a node keeps a view it stopped renewing (it renews at half of this)."""
    schedule_lease_seconds: float = 30.0
    """How long a node may take to fire what it claimed before the claim counts as failed."""
    schedule_max_failures: int = 5
    schedule_retry_seconds: float = 10.0
    """The first retry of a failed firing comes after this; each next one after twice that."""
    misfire_threshold_seconds: float = 60.0
    """A fire time missed by more than this follows the schedule's misfire policy."""
    action_workers: int = 2
    """Worker processes that run actions' JavaScript (one run at a time each)."""
    action_burst_workers: int = 2
    """Workers started beyond ``action_workers`` (one kept warm) so that a tenant with no
    run going does not wait for other tenants' long runs to end; 0 turns this off."""
    action_memory_bytes: int = 64 * 1024 * 1024
    """The memory one run of an action may use."""
    action_http_hosts: tuple[str, ...] = ()
    """Hosts actions may reach with ``http.fetch``; none (the default) turns it off."""
    action_http_timeout_seconds: float = 5.0
    webhook_allowed_hosts: tuple[str, ...] = ()
    """Hosts (``host`` for any port, ``host:port`` for one) webhooks may deliver to although
    they resolve to addresses that are not public (loopback, private, link-local)."""
    webhook_timeout_seconds: float = 5.0
    """How long one delivery may take, connection to answer (keep it under half of
    ``view_lease_seconds``, or a slow receiver may see an event twice)."""
    listen_port: int = 8080
    """The port ``chronik serve`` listens on: no action may fetch from this machine on it."""
    listen_host: str = "127.0.0.1"
    """The interface ``chronik serve`` listens on (HTTP and gRPC)."""
    grpc_port: int | None = None
    """When set, the app's lifespan also serves ZITADEL's gRPC services on this port (0: a
    free one); none (the default) serves no gRPC."""
    action_read_wait_seconds: float = 5.0
    """How long a read of actions waits for the action list to take in this process's last
    change."""
    action_flows_cache_seconds: float = 1.0
    """How long a node keeps a tenant's flows before reading them again (changes made on
    the node itself apply at once)."""
    max_body_bytes: int = 4 * 1024 * 1024
    header_timeout_seconds: float = 10.0
    """How long a connection may take to send a request's headers before it is closed."""
    max_connections: int = 1000
    """Connections one server process keeps open; one more is answered 503 and closed."""
    bootstrap_token: str | None = None
    """Used as the bootstrap admin token at first start (``CHRONIK_BOOTSTRAP_TOKEN``)."""
    oidc_issuer: str = ""
    """When set, JWT access tokens of this issuer are accepted besides Chronik's tokens."""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_tenant_claim: str = "urn:chronik:tenant"
    oidc_organisation_claim: str = "urn:zitadel:iam:user:resourceowner:id"
    oidc_roles_claim: str = "urn:zitadel:iam:org:project:roles"
    console_oidc_client_id: str = ""
    """When set together with ``oidc_issuer``, the console also signs in with the issuer, as
    this client (the authorization code flow with PKCE)."""
    console_oidc_client_secret: str = ""
    """The console client's secret, for a confidential client; none: a public one."""
    console_oidc_scopes: str = "openid profile email"
    """The scopes the console asks the issuer for, space separated."""
    console_public_url: str = ""
    """Where browsers reach the server, up to ``/console`` (``https://chronik.example.com``),
    for the console's OIDC redirect URI; by default the request's own scheme, host and root
    path."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            checked = _checked(field.name, value, _field_types()[field.name])
            if checked is not value:
                object.__setattr__(self, field.name, checked)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chronik.db').as_posix()}"


@cache
def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


_NAMES = {
    Path: "a path (str or Path)",
    float: "a number",
    int: "an integer",
    bool: "True or False",
    str: "a string",
    str | None: "a string or None",
    int | None: "an integer or None",
    tuple[str, ...]: "a list of strings",
}


def _checked(name: str, value: Any, kind: Any) -> Any:
    """``value`` as field ``name`` of type ``kind`` keeps it, converted where the meaning is
    plain; a clear error otherwise."""
    if typing.get_origin(kind) is Literal:
        if value in typing.get_args(kind):
            return value
        choices = ", ".join(typing.get_args(kind))
        raise ValueError(f"Settings.{name} must be one of {choices}, not {value!r}")
    if isinstance(value, bool) != (kind is bool):
        pass  # True is an int to Python, not to a caller
    elif kind is Path and isinstance(value, str | os.PathLike):
        return Path(value)
    elif kind is float and isinstance(value, int | float):
        return float(value)
    elif kind == tuple[str, ...]:
        if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            return tuple(value)
    elif isinstance(value, typing.get_args(kind) or kind):
        return value
    raise TypeError(f"Settings.{name} must be {_NAMES[kind]}, not {value!r}")
