"""``chronik tenants create | list``."""

from __future__ import annotations

from typing import Annotated

import typer

from chronik.cli.context import DatabaseUrlOption, DataOption, run, say, settings_from
from chronik.cli.output import Listing, ListingOption, json_document, listing, write
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings


def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A name unique among the tenants.")],
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Create a tenant and print its id (only the id, on stdout, for scripts)."""
    settings = settings_from(data, database_url)
    run(lambda: _create(settings, name))


async def _create(settings: Settings, name: str) -> None:
    async with await Chronik.open(settings) as chronik:
        tenant = await chronik.tenants.create(name)
    write(f"{tenant.id}\n".encode())
    say(f"created tenant {tenant.name!r}")


def list_(
    output: ListingOption = Listing.table,
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List the tenants."""
    settings = settings_from(data, database_url)
    run(lambda: _list(settings, output))


async def _list(settings: Settings, output: Listing) -> None:
    async with await Chronik.open(settings) as chronik:
        tenants = await chronik.tenants.list()
    if output is Listing.json:
        write(json_document(tenants))
    else:
        listing(
            ("id", "name", "created at"),
            ((t.id, t.name, t.created_at.isoformat()) for t in tenants),
            empty="tenants",
        )
