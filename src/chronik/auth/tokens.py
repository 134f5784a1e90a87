"""Personal access tokens: random, stored as a hash, shown once, expiring and revocable.

A token is found by the SHA-256 hash of the whole bearer string (a unique index), so the
string itself is never stored and may have any form: generated ones read
``chk_<43 base64url characters>`` (256 random bits); the bootstrap token of a scripted
install is whatever ``CHRONIK_BOOTSTRAP_TOKEN`` says. A slow password hash would add nothing
against secrets of that entropy and would cost every request.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import UTC, datetime

from chronik.auth.permissions import ROLES, permissions_of
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from chronik.ids import new_ulid
from chronik.records import TokenRecord
from chronik.storage.ports import TenantStore, TokenStore

_CACHE_SECONDS = 2.0
MIN_LENGTH = 24
MAX_LENGTH = 512
MAX_NAME_LENGTH = 200


def _hash(bearer: str) -> bytes:
    return hashlib.sha256(bearer.encode()).digest()


class Tokens:
    """Issues, verifies, lists and revokes tokens.

    Verified tokens are remembered for two seconds, so a busy client costs no query per
    request; a revocation through this process takes effect at once, on other nodes within
    those two seconds.
    """

    def __init__(self, store: TokenStore, tenants: TenantStore) -> None:
        self._store = store
        self._tenants = tenants
        self._verified: dict[bytes, tuple[float, Principal, datetime | None]] = {}

    async def issue(
        self,
        tenant_id: str,
        roles: list[str] | tuple[str, ...],
        *,
        organisation_id: str = "",
        name: str = "",
        expires_at: datetime | None = None,
        bearer: str | None = None,
        issuer: Principal | None = None,
    ) -> tuple[TokenRecord, str]:
        """Create a token; return its record and the bearer string (shown only now).

        An ``issuer`` (the caller of an API) may grant only what it holds itself: a token
        whose roles carry a permission the issuer lacks is refused."""
        if issuer is not None:
            beyond = sorted(r for r in set(roles) if not permissions_of([r]) <= issuer.permissions)
            if beyond:
                raise PermissionDenied(
                    f"a token may not grant role(s) {', '.join(beyond)}: they hold permissions "
                    "the caller lacks",
                    roles=beyond,
                )
        record, bearer = await self._new(
            tenant_id, roles, organisation_id, name, expires_at, bearer
        )
        await self._store.create(record)
        return record, bearer

    async def issue_first(
        self, tenant_id: str, roles: list[str], *, name: str = "", bearer: str | None = None
    ) -> tuple[TokenRecord, str] | None:
        """Like :meth:`issue`, but only while the tenant has no token at all: of any number
        of processes asking at once, exactly one gets it (the bootstrap token). ``None``
        when the tenant has a token already."""
        record, bearer = await self._new(tenant_id, roles, "", name, None, bearer)
        return (record, bearer) if await self._store.create_first(record) else None

    async def _new(
        self,
        tenant_id: str,
        roles: list[str] | tuple[str, ...],
        organisation_id: str,
        name: str,
        expires_at: datetime | None,
        bearer: str | None,
    ) -> tuple[TokenRecord, str]:
        """A valid token record and its bearer string, not stored yet."""
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise InvalidArgument(
                f"unknown role(s) {', '.join(unknown)}; known: {', '.join(sorted(ROLES))}",
                field="roles",
            )
        if not roles:
            raise InvalidArgument("a token needs at least one role", field="roles")
        if len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise InvalidArgument(
                f"name {name[:40]!r}: a token's name is at most {MAX_NAME_LENGTH} printable "
                "characters",
                field="name",
            )
        now = datetime.now(UTC)
        if expires_at is not None and expires_at <= now:
            raise InvalidArgument("the expiry must be in the future", field="expires")
        if bearer is None:
            bearer = (
                "chk_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
            )
        elif (
            not (MIN_LENGTH <= len(bearer) <= MAX_LENGTH)
            or not bearer.isprintable()
            or " " in bearer
        ):
            raise InvalidArgument(
                f"a chosen token must be {MIN_LENGTH} to {MAX_LENGTH} printable characters "
                "without spaces",
                field="token",
            )
        tenant = await self._tenants.get(tenant_id)
        record = TokenRecord(
            id=new_ulid(),
            tenant_id=tenant.id,
            name=name,
            secret_hash=_hash(bearer),
            organisation_id=organisation_id,
            roles=tuple(dict.fromkeys(roles)),
            created_at=now,
            expires_at=expires_at,
        )
        return record, bearer

    async def authenticate(self, bearer: str) -> Principal:
        if not (MIN_LENGTH <= len(bearer) <= MAX_LENGTH):
            raise Unauthenticated("the token is not valid")
        digest = _hash(bearer)
        now = time.monotonic()
        cached = self._verified.get(digest)
        if cached and now - cached[0] < _CACHE_SECONDS:
            if cached[2] is not None and cached[2] <= datetime.now(UTC):
                raise Unauthenticated("the token has expired")
            return cached[1]
        record = await self._store.find(digest)
        if record is None:
            raise Unauthenticated("the token is not valid")
        if record.revoked_at is not None:
            raise Unauthenticated("the token has been revoked")
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            raise Unauthenticated("the token has expired")
        principal = Principal(
            tenant_id=record.tenant_id,
            organisation_id=record.organisation_id,
            roles=record.roles,
            permissions=permissions_of(record.roles),
            subject=record.id,
            display_name=record.name,
        )
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[digest] = (now, principal, record.expires_at)
        return principal

    async def list(self, tenant_id: str) -> list[TokenRecord]:
        return await self._store.list((await self._tenants.get(tenant_id)).id)

    async def get(self, tenant_id: str, token_id: str) -> TokenRecord:
        """One token of the tenant, revoked or not; another tenant's is not found."""
        for record in await self.list(tenant_id):
            if record.id == token_id:
                return record
        raise NotFound(f"no token {token_id!r} in this tenant")

    async def revoke(self, tenant_id: str, token_id: str) -> None:
        tenant = await self._tenants.get(tenant_id)
        if not await self._store.revoke(tenant.id, token_id, datetime.now(UTC)):
            raise NotFound(f"no active token {token_id!r} in this tenant")
        for digest in [d for d, c in self._verified.items() if c[1].subject == token_id]:
            del self._verified[digest]
