"""What every command shares: the database options, the settings built from them, and the
one place that turns a :class:`~chronik.errors.ChronikError` into ``error: ...`` and exit 1
(exit 2 when the database named cannot be opened).

Only ``serve``, ``worker`` and ``migrate`` create a database (with its ``default`` tenant);
every other command opens an existing one, so a mistyped ``--data`` or URL is an error
rather than a new, empty database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

import typer

from chronik.errors import ChronikError, DatabaseUnavailable, InvalidArgument, NotFound
from chronik.hosts import allowed_host
from chronik.records import Tenant
from chronik.services import DEFAULT_TENANT, Chronik
from chronik.settings import Settings

T = TypeVar("T")

DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        metavar="DIR",
        help="Directory of the embedded SQLite database (used when no --database-url is given).",
        file_okay=False,
    ),
]
DatabaseUrlOption = Annotated[
    str,
    typer.Option(
        "--database-url",
        metavar="URL",
        envvar="CHRONIK_DATABASE_URL",
        help="sqlite:///path/to/file.db or postgresql://user@host/db; picks the backend.",
        show_default=False,
    ),
]
TenantDatabasesOption = Annotated[
    str,
    typer.Option(
        "--tenant-databases",
        metavar="URL,URL…",
        envvar="CHRONIK_TENANT_DATABASES",
        help="PostgreSQL databases to place tenants in; --database-url is then the "
        "directory of where each tenant lives (every command reads CHRONIK_TENANT_DATABASES).",
        show_default=False,
    ),
]
TenantOption = Annotated[
    str,
    typer.Option(
        "--tenant",
        metavar="ID_OR_NAME",
        help="The tenant to work in (default: the tenant named 'default').",
        show_default=False,
    ),
]
CreateOption = Annotated[
    bool,
    typer.Option(
        "--create",
        help="Create the database (with its tenant 'default') if there is none, as "
        "'chronik migrate' does; without it a missing database is an error (exit code 2).",
    ),
]


ViewsOption = Annotated[
    list[str],
    typer.Option(
        "--views",
        metavar="MODULE:ATTRIBUTE",
        envvar="CHRONIK_VIEWS",
        help="Views to run besides the installed packages' entry points (a View or a "
        "Registry); repeatable.",
        show_default=False,
    ),
]


def allowed_hosts(text: str) -> tuple[str, ...]:
    """The entries of a comma-separated allow-list, blanks dropped."""
    return tuple(entry.strip() for entry in text.split(",") if entry.strip())


def _checked_hosts(text: str) -> str:
    for entry in allowed_hosts(text):
        try:
            allowed_host(entry, "webhooks may deliver to")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return text


WebhookAllowedHostsOption = Annotated[
    str,
    typer.Option(
        "--webhook-allowed-hosts",
        metavar="HOST[:PORT],...",
        envvar="CHRONIK_WEBHOOK_ALLOWED_HOSTS",
        callback=_checked_hosts,
        help="Hosts webhooks may deliver to although they are not public (loopback, "
        "private): a host for any port, host:port for that port; comma separated.",
        show_default=False,
    ),
]
WebhookTimeoutOption = Annotated[
    float,
    typer.Option(
        "--webhook-timeout",
        metavar="SECONDS",
        min=0.1,
        help="How long one webhook delivery may take, connection to answer.",
    ),
]


def settings_from(
    data: Path,
    database_url: str,
    views: list[str] | None = None,
    *,
    create: bool = False,
    webhook_allowed_hosts: str = "",
    tenant_databases: str | None = None,
) -> Settings:
    """The one settings object of this invocation; ``create`` for the commands that may
    create the database. The tenant databases come from ``CHRONIK_TENANT_DATABASES`` unless
    the command has its own option."""
    if tenant_databases is None:
        tenant_databases = os.environ.get("CHRONIK_TENANT_DATABASES", "")
    return Settings(
        database_url=database_url,
        tenant_databases=tuple(u.strip() for u in tenant_databases.split(",") if u.strip()),
        data_dir=data,
        views=tuple(views or ()),
        create_database=create,
        webhook_allowed_hosts=allowed_hosts(webhook_allowed_hosts),
    )


def say(message: str) -> None:
    """A message for the person at the terminal: always stderr, so stdout stays data."""
    typer.echo(message, err=True)


def counted(count: int, noun: str = "event") -> str:
    """``1 event``, ``2 events``; ``counted(3, "view")``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def run(main: Callable[[], Coroutine[Any, Any, T]], *, interrupted: int = 130) -> T:
    """Run a command's coroutine; a ChronikError becomes ``error: <message>`` and exit 1,
    Ctrl-C exit ``interrupted`` (0 for commands that only stop when told to). A database
    that cannot be opened is the command line's mistake: exit 2, as for a wrong option."""
    try:
        return asyncio.run(main())
    except DatabaseUnavailable as exc:
        say(f"error: {exc.message}")
        raise typer.Exit(2) from None
    except ChronikError as exc:
        say(f"error: {exc.message}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if interrupted:
            say("interrupted")
        raise typer.Exit(interrupted) from None
    except BrokenPipeError:
        # The reader went away (``| head``): silence the flush at interpreter exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(1) from None


async def tenant_of(chronik: Chronik, id_or_name: str) -> Tenant:
    """The tenant ``--tenant`` names, else the ``default`` one, which only the commands that
    create a database create."""
    if id_or_name:
        return await chronik.tenants.get(id_or_name)
    if chronik.settings.create_database:
        return await chronik.default_tenant()
    try:
        return await chronik.tenants.get(DEFAULT_TENANT)
    except NotFound:
        raise NotFound(
            f"this database has no tenant named {DEFAULT_TENANT!r}: name one with --tenant, "
            f"or create it with `chronik tenants create {DEFAULT_TENANT}`"
        ) from None


@contextmanager
def reading(path: str) -> Iterator[BinaryIO]:
    """The input ``path`` names, ``-`` for stdin; an unreadable file is the user's error."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed below; opening is what may fail)
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        yield stream
