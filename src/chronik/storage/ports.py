"""The storage ports: what the capabilities need from a database, in the domain's words.

Each backend implements them with its own SQL and its own concurrency scheme; the one
contract suite in ``tests/contract`` holds both to the same behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chronik.errors import ChronikError
from chronik.records import Event, EventFilter, PendingAppend, Tenant, TokenRecord

AppendOutcome = list[Event] | ChronikError


class EventStore(Protocol):
    committers: int
    """How many group commits this backend usefully runs at once."""

    async def commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        """Commit several independent appends in one transaction.

        Each append is atomic on its own: its outcome is either all of its stored events or
        the error that refused it (and wrote none of it). Sequences are assigned in commit
        order, so a reader of ``sequence > n`` never misses one that commits later.
        """
        ...

    async def search(self, query: EventFilter) -> list[Event]: ...

    async def read_after(self, after: int, limit: int, tenant_id: str | None = None) -> list[Event]:
        """Events with ``sequence > after`` in sequence order, of one tenant or of all."""
        ...

    async def get(self, tenant_id: str, locator: str) -> Event | None: ...

    async def of_request(self, tenant_id: str, request_id: str) -> list[Event]: ...

    async def sequence_at(self, at: datetime, *, inclusive: bool) -> int:
        """The first sequence created at (or after, when not ``inclusive``) ``at``.

        Creation dates never decrease along the sequence, so a time bound is a sequence
        bound. Past the head this is ``head + 1``.
        """
        ...

    async def head(self) -> int:
        """The highest committed sequence (0 for an empty log)."""
        ...

    def commit_signal(self) -> asyncio.Event:
        """An event set by the next commit of this log (in this process or, where the
        backend can tell, another). Take it before reading, wait on it after."""
        ...

    async def names(self, tenant_id: str, kind: str) -> list[str]:
        """The event types (``kind="event"``) or aggregate types a tenant has used."""
        ...


class TenantStore(Protocol):
    async def create(self, name: str, tenant_id: str | None = None) -> Tenant: ...

    async def get(self, id_or_name: str) -> Tenant: ...

    async def list(self) -> list[Tenant]: ...


class TokenStore(Protocol):
    async def create(self, token: TokenRecord) -> None: ...

    async def find(self, secret_hash: bytes) -> TokenRecord | None:
        """The token whose bearer string hashes to ``secret_hash``."""
        ...

    async def list(self, tenant_id: str) -> list[TokenRecord]: ...

    async def revoke(self, tenant_id: str, token_id: str, at: datetime) -> bool:
        """Revoke a token of ``tenant_id``; False when it does not exist or is revoked."""
        ...


class Database(Protocol):
    """An open connection to one backend, with each port as an attribute."""

    url: str

    @property
    def events(self) -> EventStore: ...

    @property
    def tenants(self) -> TenantStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        ...

    async def schema_version(self) -> int: ...

    async def secret(self, name: str) -> bytes:
        """A random secret kept in the database (created on first use), e.g. for tokens."""
        ...

    async def close(self) -> None: ...
