"""``chronik tenants create | list | move``."""

from __future__ import annotations

from typing import Annotated

import typer

from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantDatabasesOption,
    run,
    say,
    settings_from,
)
from chronik.cli.output import Listing, ListingOption, json_document, listing, write
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings


def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A name unique among the tenants.")],
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    tenant_databases: TenantDatabasesOption = "",
) -> None:
    """Create a tenant and print its id (only the id, on stdout, for scripts).

    With tenant databases, it goes to the one holding the fewest tenants."""
    settings = settings_from(data, database_url, tenant_databases=tenant_databases)
    run(lambda: _create(settings, name))


async def _create(settings: Settings, name: str) -> None:
    async with await Chronik.open(settings) as chronik:
        tenant = await chronik.tenants.create(name)
        where = (await chronik.placements()).get(tenant.id)
    write(f"{tenant.id}\n".encode())
    say(f"created tenant {tenant.name!r}" + (f" in {where}" if where else ""))


def list_(
    output: ListingOption = Listing.table,
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    tenant_databases: TenantDatabasesOption = "",
) -> None:
    """List the tenants (with tenant databases, with the database each lives in)."""
    settings = settings_from(data, database_url, tenant_databases=tenant_databases)
    run(lambda: _list(settings, output))


async def _list(settings: Settings, output: Listing) -> None:
    async with await Chronik.open(settings) as chronik:
        tenants = await chronik.tenants.list()
        placed = await chronik.placements()
    if output is Listing.json:
        if placed:
            write(json_document([{**_fields(t), "database": placed[t.id]} for t in tenants]))
        else:
            write(json_document(tenants))
    elif placed:
        listing(
            ("id", "name", "created at", "database"),
            ((t.id, t.name, t.created_at.isoformat(), placed[t.id]) for t in tenants),
            empty="tenants",
        )
    else:
        listing(
            ("id", "name", "created at"),
            ((t.id, t.name, t.created_at.isoformat()) for t in tenants),
            empty="tenants",
        )


def _fields(tenant: object) -> dict[str, object]:
    import msgspec

    return dict(msgspec.to_builtins(tenant))


def move(
    tenant: Annotated[str, typer.Argument(metavar="TENANT", help="The tenant's id or name.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The tenant database to move it to: its URL (as in --tenant-databases) or "
            "host:port/dbname. Where it lives now calls off a move under way.",
        ),
    ],
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    tenant_databases: TenantDatabasesOption = "",
) -> None:
    """Move a tenant, its events and records to another tenant database.

    Copies the events while writes go on, pauses the tenant's writes for the copy of what is
    left and its records, then points every node at the new database (reads go on
    throughout). Run it again after an interruption: it finishes the move.
    """
    settings = settings_from(data, database_url, tenant_databases=tenant_databases)
    run(lambda: _move(settings, tenant, to))


async def _move(settings: Settings, tenant: str, to: str) -> None:
    async with await Chronik.open(settings) as chronik:
        moved = await chronik.move_tenant(tenant, to, progress=say)
    if moved.outcome == "moved":
        say(
            f"moved tenant {moved.tenant.name!r} ({moved.events} events) from {moved.source} "
            f"to {moved.target} in {moved.seconds:.1f} s; its writes paused "
            f"{moved.paused_seconds:.3f} s"
        )
    elif moved.outcome == "abandoned":
        say(f"called off the move of tenant {moved.tenant.name!r}: it stays in {moved.source}")
    else:
        say(f"tenant {moved.tenant.name!r} already lives in {moved.target}")
