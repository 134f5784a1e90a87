"""Connections, migrations, secrets and tenants of the SQLite backend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from chronik.errors import (
    AlreadyExists,
    ChronikError,
    DatabaseUnavailable,
    FailedPrecondition,
    NotFound,
    Unavailable,
)
from chronik.records import Tenant
from chronik.settings import Durability
from chronik.storage import queries as sql_files

PACKAGE = "chronik.storage.sqlite"
log = logging.getLogger(__name__)
Q = sql_files.load(PACKAGE)
T = TypeVar("T")

_BUSY_DEADLINE = 10.0
_WRITER_CACHE_KIB = 64 * 1024


def micros(at: datetime) -> int:
    return (
        int(at.timestamp() * 1_000_000)
        if at.tzinfo
        else int(at.replace(tzinfo=UTC).timestamp() * 1_000_000)
    )


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def translate(exc: sqlite3.Error) -> ChronikError:
    """The one place where sqlite3's exceptions become Chronik's."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return Unavailable("the database is busy; try again", cause=text)
    if isinstance(exc, sqlite3.IntegrityError):
        return AlreadyExists("a unique key is already taken", cause=text)
    log.error("SQLite refused a statement: %s", text)
    return Unavailable("the database refused the request; the server log has the details")


class TenantKeys:
    """Maps tenant ids to the small integer keys the tables use; tenants are never renamed
    or removed, so the map only grows."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}
        self.ids: dict[int, str] = {}

    def key(self, con: sqlite3.Connection, tenant_id: str) -> int:
        key = self._keys.get(tenant_id)
        if key is None:
            row = con.execute(Q["tenant_key"], (tenant_id,)).fetchone()
            if row is None:
                raise NotFound(f"tenant {tenant_id!r} not found")
            key = self._remember(tenant_id, row[0])
        return key

    def id(self, con: sqlite3.Connection, key: int) -> str:
        tenant_id = self.ids.get(key)
        if tenant_id is None:
            tenant_id = con.execute(Q["tenant_id"], (key,)).fetchone()[0]
            self._remember(tenant_id, key)
        return tenant_id

    def _remember(self, tenant_id: str, key: int) -> int:
        self._keys[tenant_id] = key
        self.ids[key] = tenant_id
        return key


def _wal(con: sqlite3.Connection, *, seconds: float = 5.0) -> str:
    """Switch to WAL: the journal mode it is in then. Processes that open a new file together
    all switch it, and SQLite answers "locked" to all but one at once, without waiting for
    its busy timeout: the others try again until the first is done."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


class SQLiteDatabase:
    """One SQLite file: the writer connection lives on the event loop's thread.

    Unless ``create``, the file must exist and hold Chronik's schema: no connection ever
    creates it (nor its directory), whatever happens between the check and the connect."""

    def __init__(
        self,
        path: Path,
        *,
        durability: Durability = "NORMAL",
        poll_seconds: float = 0.5,
        create: bool = True,
    ) -> None:
        from chronik.storage.sqlite.actions import SQLiteActionRunStore
        from chronik.storage.sqlite.events import SQLiteEventStore
        from chronik.storage.sqlite.groups import SQLiteGroupStore
        from chronik.storage.sqlite.schedules import SQLiteScheduleStore
        from chronik.storage.sqlite.tokens import SQLiteTokenStore
        from chronik.storage.sqlite.views import SQLiteViewStore
        from chronik.storage.sqlite.webhooks import SQLiteWebhookStore

        self.path = path
        self.url = f"sqlite:///{path.as_posix()}"
        self.durability = durability
        self.poll_seconds = poll_seconds
        self.create = create
        self.keys = TenantKeys()
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._checkpoints: sqlite3.Connection | None = None
        self._checkpoint_thread = ThreadPoolExecutor(1, thread_name_prefix="chronik-checkpoint")
        self._checkpointer: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self.events = SQLiteEventStore(self)
        self.tenants = SQLiteTenantStore(self)
        self.tokens = SQLiteTokenStore(self)
        self.views = SQLiteViewStore(self)
        self.schedules = SQLiteScheduleStore(self)
        self.action_runs = SQLiteActionRunStore(self)
        self.webhooks = SQLiteWebhookStore(self)
        self.groups = SQLiteGroupStore(self)

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.create:
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        else:  # read-write, never create
            uri = f"{self.path.absolute().as_uri()}?mode=rw"
            con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout = 5000")
        con.execute(f"PRAGMA synchronous = {self.durability}")
        return con

    @property
    def writer(self) -> sqlite3.Connection:
        if self._writer is None:
            if self.create:
                self._create_private()
            con = self._connect()
            mode = _wal(con)
            if mode.lower() != "wal":
                raise Unavailable(f"{self.path}: cannot switch SQLite to WAL mode ({mode})")
            con.execute("PRAGMA wal_autocheckpoint = 0")
            con.execute("PRAGMA busy_timeout = 0")
            # Each append reads and writes a leaf of every index on events, at random places
            # of the aggregate indexes: with SQLite's default 2 MB cache most of those reads
            # went to the file (1.4 reads per event in a batch of 100; 0.26 with 64 MB).
            con.execute(f"PRAGMA cache_size = {-_WRITER_CACHE_KIB}")
            self._writer = con
        return self._writer

    def _create_private(self) -> None:
        """Create the directory and the database file for their owner only (0700, 0600),
        when Chronik creates them: the log holds every tenant's events. SQLite gives its
        WAL and shared-memory files the database file's mode. Existing files keep theirs."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    async def open(self) -> None:
        """Unless the database may be created: check that it exists and is Chronik's."""
        if self.create:
            return
        missing = DatabaseUnavailable(
            f"no Chronik database at {self.path.absolute()}: run `chronik migrate` "
            "(or `chronik serve`) to create one there"
        )
        if not self.path.is_file():
            raise missing
        try:
            version = self._schema_version(self._reading())
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(
                f"{self.path.absolute()} is not a Chronik database: {exc}"
            ) from None
        if version == 0:
            raise missing

    def _reading(self) -> sqlite3.Connection:
        if self._reader is None:
            self._reader = self._connect()
            self._reader.execute("PRAGMA query_only = 1")
        return self._reader

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the reader connection, on the loop's thread.

        Reads are short keyset scans (a page is at most the configured limit), and handing
        each one to a thread cost more than the read itself: the hop and the fight for the
        GIL made a 100-event search three times slower under concurrent requests. It still
        lets the loop run other tasks first, so that a task that reads in a loop (a poller, a
        follower) never starves the others."""
        await asyncio.sleep(0)
        reader = self._reading()
        try:
            return fn(reader)
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction on the writer, on this thread.

        When another process holds the write lock, wait without blocking the loop.
        """
        con = self.writer
        delay = 0.001
        deadline = asyncio.get_running_loop().time() + _BUSY_DEADLINE
        while True:
            try:
                con.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise translate(exc) from exc
                if asyncio.get_running_loop().time() > deadline:
                    raise Unavailable("the database stayed locked by another process") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
        try:
            result = fn(con)
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            con.execute("ROLLBACK")
            raise translate(exc) from exc
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._dirty.set()
        if self._checkpointer is None:
            self._checkpointer = asyncio.create_task(self._checkpoint_loop())
        return result

    async def _checkpoint_loop(self) -> None:
        """Move WAL pages into the database file on a thread of its own, never on the loop
        (a checkpoint writes and syncs the file)."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await asyncio.get_running_loop().run_in_executor(
                self._checkpoint_thread, self._checkpoint
            )
            await asyncio.sleep(1.0)

    def _checkpoint(self) -> None:
        if self._checkpoints is None:
            self._checkpoints = self._connect()
        try:
            self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the next commit tries again
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)

    # -- schema ---------------------------------------------------------------------------

    async def schema_version(self) -> int:
        return self._schema_version(self.writer)

    @staticmethod
    def _schema_version(con: sqlite3.Connection) -> int:
        exists = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chronik_schema'"
        ).fetchone()
        if not exists:
            return 0
        row = con.execute(Q["schema_version"]).fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        steps = sql_files.migrations(PACKAGE)
        latest = steps[-1][0]

        def apply(con: sqlite3.Connection) -> list[int]:
            current = self._schema_version(con)
            if current > latest:
                raise FailedPrecondition(
                    f"the database {self.path} has schema version {current}, newer than this "
                    f"Chronik knows ({latest}); upgrade Chronik to use it"
                )
            if current == 0:
                con.execute(Q["create_schema_table"])
                con.execute(Q["insert_schema_version"], (0,))
            applied = []
            for version, _name, script in steps:
                if version <= current:
                    continue
                for statement in _statements(script):
                    con.execute(statement)
                con.execute(Q["set_schema_version"], (version,))
                applied.append(version)
            return applied

        return await self.write(apply)

    async def secret(self, name: str) -> bytes:
        def get_or_create(con: sqlite3.Connection) -> bytes:
            con.execute(Q["insert_meta"], (f"secret:{name}", secrets.token_bytes(32)))
            return bytes(con.execute(Q["get_meta"], (f"secret:{name}",)).fetchone()[0])

        return await self.write(get_or_create)

    async def close(self) -> None:
        await self.events.close()
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        self._checkpoint_thread.shutdown(wait=True)  # a cancelled checkpoint may still run
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
            self._writer = None
        for con in (self._reader, self._checkpoints):
            if con is not None:
                con.close()
        self._reader = self._checkpoints = None


def _statements(script: str) -> Iterator[str]:
    for part in script.split(";"):
        body = "\n".join(
            line for line in part.splitlines() if not line.lstrip().startswith("--")
        ).strip()
        if body:
            yield body


class SQLiteTenantStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def create(self, name: str, tenant_id: str | None = None) -> Tenant:
        new_id = tenant_id or str(uuid.uuid4())
        now = datetime.now(UTC)

        def insert(con: sqlite3.Connection) -> None:
            con.execute(Q["insert_tenant"], (new_id, name, micros(now)))

        try:
            await self._db.write(insert)
        except AlreadyExists as exc:
            raise AlreadyExists(
                f"a tenant named {name!r} exists"
                if tenant_id is None
                else f"a tenant named {name!r} or with id {tenant_id!r} exists"
            ) from exc
        return Tenant(id=new_id, name=name, created_at=from_micros(micros(now)))

    async def get(self, id_or_name: str) -> Tenant:
        row = await self._db.read(
            lambda con: con.execute(Q["get_tenant"], (id_or_name, id_or_name)).fetchone()
        )
        if row is None:
            raise NotFound(f"tenant {id_or_name!r} not found")
        return _tenant(row)

    async def list(self) -> list[Tenant]:
        rows = await self._db.read(lambda con: con.execute(Q["list_tenants"]).fetchall())
        return [_tenant(r) for r in rows]


def _tenant(row: Any) -> Tenant:
    return Tenant(id=row[0], name=row[1], created_at=from_micros(row[2]))


def path_from_url(url: str) -> Path:
    """``sqlite:///relative.db`` and ``sqlite:////absolute.db`` as in SQLAlchemy."""
    rest = url.removeprefix("sqlite:///")
    return Path(os.path.expanduser(rest))
