"""Personal access tokens over HTTP (``/v1/tokens``, for the tenant's ``IAM_OWNER``), as
:class:`~chronik.auth.Tokens` offers them: the same calls and
:class:`~chronik.records.TokenRecord`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chronik.client.wire import time
from chronik.records import TokenRecord

if TYPE_CHECKING:
    from chronik.client.core import AsyncClient


class RemoteTokens:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def issue(
        self,
        tenant_id: str,
        roles: Sequence[str],
        *,
        organisation_id: str | None = None,
        name: str = "",
        expires_at: datetime | None = None,
    ) -> tuple[TokenRecord, str]:
        """Create a token; return its record and the bearer string (shown only now). The
        caller is the issuer: it may grant only what it holds itself, in the organisation
        of its own token unless ``organisation_id`` says another. The server asks for a
        ``name``."""
        await self._client.check_tenant(tenant_id)
        body: dict[str, Any] = {"name": name, "roles": list(roles)}
        if organisation_id is not None:
            body["organisationId"] = organisation_id
        if expires_at is not None:
            body["expiresAt"] = expires_at.isoformat()
        found = await self._client.call("POST", "/v1/tokens", json=body, safe=False)
        bearer: str = found["token"]
        return _record(tenant_id, found, hashlib.sha256(bearer.encode()).digest()), bearer

    async def list(self, tenant_id: str) -> list[TokenRecord]:
        """The tenant's tokens, revoked ones too."""
        await self._client.check_tenant(tenant_id)
        found = await self._client.call("GET", "/v1/tokens", safe=True)
        return [_record(tenant_id, t) for t in found["tokens"]]

    async def get(self, tenant_id: str, token_id: str) -> TokenRecord:
        """One token of the tenant, revoked or not; another tenant's is not found."""
        await self._client.check_tenant(tenant_id)
        path = f"/v1/tokens/{quote(token_id, safe='')}"
        return _record(tenant_id, await self._client.call("GET", path, safe=True))

    async def revoke(self, tenant_id: str, token_id: str) -> None:
        """Refuse the token from now on (on other nodes within two seconds)."""
        await self._client.check_tenant(tenant_id)
        await self._client.call("DELETE", f"/v1/tokens/{quote(token_id, safe='')}", safe=False)


def _record(tenant_id: str, d: dict[str, Any], secret_hash: bytes = b"") -> TokenRecord:
    """A token as the server shows it: without the hash of its secret, which the client
    knows only of a token it has just issued (empty otherwise)."""
    return TokenRecord(
        id=d["id"],
        tenant_id=tenant_id,
        name=d["name"],
        secret_hash=secret_hash,
        organisation_id=d["organisationId"],
        roles=tuple(d["roles"]),
        created_at=time(d["createdAt"]),
        expires_at=time(d["expiresAt"]) if d.get("expiresAt") else None,
        revoked_at=time(d["revokedAt"]) if d.get("revokedAt") else None,
    )
