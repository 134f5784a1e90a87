"""``chronik tokens create | list | revoke``: personal access tokens of a tenant."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantOption,
    run,
    say,
    settings_from,
    tenant_of,
)
from chronik.cli.output import Listing, ListingOption, json_document, listing, write
from chronik.errors import InvalidArgument
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def expiry(text: str) -> datetime | None:
    """``30d``, ``12h``, ``90m`` from now, or an ISO 8601 instant."""
    if not text:
        return None
    match = _DURATION.fullmatch(text.strip())
    if match:
        return datetime.now(UTC) + timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"--expires {text!r}: give 30d, 12h, 90m or an ISO 8601 instant"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def create(
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            help="IAM_OWNER, IAM_OWNER_VIEWER, ORG_OWNER, ORG_OWNER_VIEWER, "
            "EVENTS_READER or EVENTS_WRITER; repeat for several.",
        ),
    ],
    tenant: TenantOption = "",
    org: Annotated[str, typer.Option("--org", help="Organisation the token acts in.")] = "",
    expires: Annotated[str, typer.Option(help="30d, 12h, 90m, or an ISO 8601 instant.")] = "",
    name: Annotated[str, typer.Option(help="A note on what the token is for.")] = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Create a token and print it (only the token, on stdout; it is not shown again)."""
    settings = settings_from(data, database_url)
    run(lambda: _create(settings, tenant, role, org, expires, name))


async def _create(
    settings: Settings, tenant: str, roles: list[str], org: str, expires: str, name: str
) -> None:
    expires_at = expiry(expires)
    async with await Chronik.open(settings) as chronik:
        owner = await tenant_of(chronik, tenant)
        record, bearer = await chronik.tokens.issue(
            owner.id, roles, organisation_id=org, name=name, expires_at=expires_at
        )
    write(f"{bearer}\n".encode())
    say(f"created token {record.id} in tenant {owner.name!r}")


def list_(
    tenant: TenantOption = "",
    output: ListingOption = Listing.table,
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List the tokens of a tenant (never their secrets)."""
    settings = settings_from(data, database_url)
    run(lambda: _list(settings, tenant, output))


async def _list(settings: Settings, tenant: str, output: Listing) -> None:
    async with await Chronik.open(settings) as chronik:
        owner = await tenant_of(chronik, tenant)
        found = await chronik.tokens.list(owner.id)
    rows: list[dict[str, str]] = [
        {
            "id": t.id,
            "name": t.name,
            "roles": ", ".join(t.roles),
            "organisationId": t.organisation_id,
            "createdAt": t.created_at.isoformat(),
            "expiresAt": t.expires_at.isoformat() if t.expires_at else "",
            "revokedAt": t.revoked_at.isoformat() if t.revoked_at else "",
        }
        for t in found
    ]
    if output is Listing.json:
        write(json_document(rows))
        return
    listing(
        ("id", "name", "roles", "org", "created", "expires", "revoked"),
        (
            (
                r["id"],
                r["name"],
                r["roles"],
                r["organisationId"],
                r["createdAt"][:19],
                r["expiresAt"][:19],
                r["revokedAt"][:19],
            )
            for r in rows
        ),
        empty="tokens",
    )


def revoke(
    token_id: Annotated[
        str, typer.Argument(metavar="TOKEN_ID", help="The token's id (from tokens list).")
    ],
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Revoke a token: it is refused from then on."""
    settings = settings_from(data, database_url)
    run(lambda: _revoke(settings, tenant, token_id))


async def _revoke(settings: Settings, tenant: str, token_id: str) -> None:
    async with await Chronik.open(settings) as chronik:
        owner = await tenant_of(chronik, tenant)
        await chronik.tokens.revoke(owner.id, token_id)
    say(f"revoked token {token_id}")
