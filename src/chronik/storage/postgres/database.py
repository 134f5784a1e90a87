"""Pool, migrations, secrets and tenants of the PostgreSQL backend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from chronik.errors import (
    AlreadyExists,
    ChronikError,
    DatabaseUnavailable,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    TenantMoved,
    Unavailable,
)
from chronik.records import Tenant
from chronik.storage import queries as sql_files

PACKAGE = "chronik.storage.postgres"
PROBE_CONNECT_SECONDS = 2
"""libpq's shortest connect timeout."""
log = logging.getLogger(__name__)
Q = sql_files.load(PACKAGE)


def translate(exc: Exception) -> ChronikError:
    """The one place where psycopg's exceptions become Chronik's. Messages never carry the
    driver's text (it may quote the data); the log has it."""
    if getattr(exc, "sqlstate", None) == "CH001":
        return TenantMoved(
            "the tenant's rows live in another database (it moved, or is moving, there): a "
            "node of tenants placed across databases must be given them (--tenant-databases)"
        )
    if isinstance(exc, pg_errors.UniqueViolation):
        return AlreadyExists("a unique key is already taken", cause=str(exc))
    if isinstance(exc, psycopg.DataError) and "NUL" in str(exc):
        # psycopg refuses, before sending, a text parameter that holds one: a name or filter
        # of the request did, which SQLite stores but PostgreSQL cannot.
        return InvalidArgument("a text of the request holds a NUL (\\u0000) character")
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        log.warning("PostgreSQL is unavailable: %s", exc)
        return Unavailable("PostgreSQL is unavailable; try again", cause=str(exc))
    log.error("PostgreSQL refused a statement: %s", exc)
    return Unavailable("the database refused the request; the server log has the details")


def as_is(value: datetime) -> datetime:
    """psycopg already gives ``timestamptz`` as an aware ``datetime``."""
    return value


class TenantKeys:
    """Maps tenant ids to the integer keys the tables use; the map only grows."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.ids: dict[int, str] = {}

    async def key(self, conn: psycopg.AsyncConnection[Any], tenant_id: str) -> int:
        key = self.keys.get(tenant_id)
        if key is None:
            cur = await conn.execute(Q["tenant_key"], (tenant_id,))
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"tenant {tenant_id!r} not found")
            key = row[0]
            self.keys[tenant_id] = key
            self.ids[key] = tenant_id
        return key

    async def learn(self, conn: psycopg.AsyncConnection[Any], keys: Iterable[int]) -> None:
        missing = [k for k in set(keys) if k not in self.ids]
        if missing:
            cur = await conn.execute(Q["tenant_ids"], (missing,))
            for key, tenant_id in await cur.fetchall():
                self.keys[tenant_id] = key
                self.ids[key] = tenant_id


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    import msgspec

    set_json_loads(msgspec.json.decode, conn)
    await conn.execute("SET timezone = 'UTC'")


_TRANSIENT = (
    "connection refused",
    "timeout expired",
    "starting up",
    "shutting down",
    "recovery mode",
    "not yet accepting connections",
    "too many clients",
    "connection slots",
    "closed the connection unexpectedly",
    "connection reset",
)
"""Refusals that a server which is starting, restarting or busy gives: worth another try.
Any other (no such database or role, credentials, host name, options) is final."""


def _reason(exc: psycopg.Error) -> str:
    """The server's (or libpq's) reason a connection failed, on one line, without the
    prefixes that repeat the address."""
    text = str(exc).removeprefix("connection failed: ").removeprefix("connection is bad: ")
    text = re.sub(r"connection to server (at|on) .*? failed: ", "", text)
    lines = (" ".join(line.split()) for line in text.replace("FATAL:  ", "").splitlines())
    return "; ".join(line for line in lines if line)


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database.

    Unless ``create``, the database must already hold Chronik's schema: migrating an
    empty database is creating it."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        poll_seconds: float = 0.5,
        create: bool = True,
        connect_seconds: float = 5.0,
    ) -> None:
        from chronik.storage.postgres.actions import PostgresActionRunStore
        from chronik.storage.postgres.events import PostgresEventStore
        from chronik.storage.postgres.groups import PostgresGroupStore
        from chronik.storage.postgres.schedules import PostgresScheduleStore
        from chronik.storage.postgres.tokens import PostgresTokenStore
        from chronik.storage.postgres.views import PostgresViewStore
        from chronik.storage.postgres.webhooks import PostgresWebhookStore

        self.url = url
        self.poll_seconds = poll_seconds
        self.create = create
        self.connect_seconds = connect_seconds
        self.keys = TenantKeys()
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max(pool_size, 4),
            open=False,
            configure=_configure,
            kwargs={"autocommit": True},
            name="chronik",
        )
        self.events = PostgresEventStore(self)
        self.tenants = PostgresTenantStore(self)
        self.tokens = PostgresTokenStore(self)
        self.views = PostgresViewStore(self)
        self.schedules = PostgresScheduleStore(self)
        self.action_runs = PostgresActionRunStore(self)
        self.webhooks = PostgresWebhookStore(self)
        self.groups = PostgresGroupStore(self)
        self._opened = False

    async def open(self) -> None:
        if self._opened:
            return
        await self._probe()
        try:
            await self.pool.open(wait=True, timeout=10)
        except PoolTimeout as exc:
            await self.pool.close()
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {_safe(self.url)}") from exc
        self._opened = True

    async def _probe(self) -> None:
        """Connect once before the pool does, which would retry every failure for seconds
        and log each: a final refusal fails at once with the server's reason, a transient
        one is retried quietly for up to ``connect_seconds``."""
        deadline = time.monotonic() + self.connect_seconds
        delay = 0.05
        while True:
            left = max(0.1, deadline - time.monotonic())
            try:
                conn = await asyncio.wait_for(
                    psycopg.AsyncConnection.connect(self.url, autocommit=True), left
                )
                break
            except (psycopg.Error, TimeoutError) as exc:
                reason = (
                    f"no answer within {self.connect_seconds:g} s"
                    if isinstance(exc, TimeoutError)
                    else _reason(exc)
                )
                transient = any(word in reason.lower() for word in _TRANSIENT)
                if not transient or time.monotonic() + delay >= deadline:
                    tried = f" (tried for {self.connect_seconds:g} s)" if transient else ""
                    raise DatabaseUnavailable(
                        f"cannot connect to PostgreSQL at {_safe(self.url)}: {reason}{tried}"
                    ) from None
                log.debug("PostgreSQL refused a connection, trying again: %s", reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        async with conn:
            if self.create:
                return
            try:
                version = await self._schema_version(conn)
            except psycopg.Error as exc:
                raise translate(exc) from exc
            if version == 0:
                raise DatabaseUnavailable(
                    f"the PostgreSQL database at {_safe(self.url)} holds no Chronik schema: "
                    "run `chronik migrate` (or `chronik serve`) to create it"
                )

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; driver errors leave as Chronik errors."""
        await self.open()
        try:
            async with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc
        except PoolTimeout as exc:
            raise translate(exc) from exc

    async def schema_version(self) -> int:
        """Read on a connection of its own, not the pool's: pooled connections may have
        died with the server, and the pool waits up to 30 s for a new one and retries those
        with a growing delay, so it would show neither an outage nor the server's return at
        once (``/readyz`` relies on both)."""
        try:
            async with await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=PROBE_CONNECT_SECONDS
            ) as conn:
                return await self._schema_version(conn)
        except psycopg.Error as exc:
            raise Unavailable("PostgreSQL is unavailable; try again", cause=str(exc)) from None

    @staticmethod
    async def _schema_version(conn: psycopg.AsyncConnection[Any]) -> int:
        cur = await conn.execute(Q["schema_table_exists"])
        row = await cur.fetchone()
        if not row or not row[0]:
            return 0
        cur = await conn.execute(Q["schema_version"])
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        steps = sql_files.migrations(PACKAGE)
        latest = steps[-1][0]
        applied = []
        async with self.connection() as conn, conn.transaction():
            await conn.execute(Q["migration_lock"])
            current = await self._schema_version(conn)
            if current > latest:
                raise FailedPrecondition(
                    f"the database has schema version {current}, newer than this Chronik "
                    f"knows ({latest}); upgrade Chronik to use it"
                )
            if current == 0:
                await conn.execute(Q["create_schema_table"])
                await conn.execute(Q["insert_schema_version"], (0,))
            for version, _name, script in steps:
                if version > current:
                    await conn.execute(script.encode())
                    await conn.execute(Q["set_schema_version"], (version,))
                    applied.append(version)
        return applied

    async def secret(self, name: str) -> bytes:
        async with self.connection() as conn, conn.transaction():
            await conn.execute(Q["insert_meta"], (f"secret:{name}", secrets.token_bytes(32)))
            cur = await conn.execute(Q["get_meta"], (f"secret:{name}",))
            row = await cur.fetchone()
            assert row is not None
            return bytes(row[0])

    async def close(self) -> None:
        await self.events.close()
        if self._opened:
            await self.pool.close()
            self._opened = False


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<invalid URL>"
    info.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in info.items())


class PostgresTenantStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(self, name: str, tenant_id: str | None = None) -> Tenant:
        new_id = tenant_id or str(uuid.uuid4())
        now = datetime.now(UTC)
        try:
            async with self._db.connection() as conn:
                await conn.execute(Q["insert_tenant"], (new_id, name, now))
        except AlreadyExists as exc:
            raise AlreadyExists(
                f"a tenant named {name!r} exists"
                if tenant_id is None
                else f"a tenant named {name!r} or with id {tenant_id!r} exists"
            ) from exc
        return Tenant(id=new_id, name=name, created_at=now)

    async def get(self, id_or_name: str) -> Tenant:
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["get_tenant"], (id_or_name, id_or_name))
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"tenant {id_or_name!r} not found")
        return Tenant(id=row[0], name=row[1], created_at=row[2])

    async def list(self) -> list[Tenant]:
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["list_tenants"])
            rows = await cur.fetchall()
        return [Tenant(id=r[0], name=r[1], created_at=r[2]) for r in rows]
