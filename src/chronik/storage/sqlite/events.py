"""The event log on SQLite: group commits on the writer, keyset scans on the readers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from chronik.errors import ChronikError, Conflict
from chronik.records import Event, EventFilter, PendingAppend
from chronik.storage import search
from chronik.storage.append import LOCATOR_TAKEN, check_expected
from chronik.storage.append import stored as stored_event
from chronik.storage.ports import AppendOutcome
from chronik.storage.sqlite.database import Q, TenantKeys, from_micros, micros

if TYPE_CHECKING:
    from chronik.storage.sqlite.database import SQLiteDatabase

log = logging.getLogger(__name__)
_decode_payload = msgspec.json.Decoder(dict[str, Any]).decode


def _events(keys: TenantKeys, con: sqlite3.Connection, rows: list[Any]) -> list[Event]:
    """Rows in the column order of the queries to events: the hot loop of following."""
    ids = keys.ids
    decode = _decode_payload
    out: list[Event] = []
    last_micros = -1
    created_at = _EPOCH
    for r in rows:
        tenant = ids.get(r[1]) or keys.id(con, r[1])
        if r[13] != last_micros:
            last_micros = r[13]
            created_at = datetime.fromtimestamp(last_micros / 1_000_000, UTC)
        out.append(
            Event(
                r[0],
                r[2],
                tenant,
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                decode(r[9]),
                r[10],
                r[11],
                r[12],
                created_at,
                r[14],
                r[15],
                {} if r[16] is None else decode(r[16]),
            )
        )
    return out


_EPOCH = datetime.fromtimestamp(0, UTC)

INDEX_EVERY = 5000
"""Pending events (migration 0009) that start an index pass. A read scans at most about
this many events past the indexes (a search that matches none of 5,000 spent 0.9 ms on
them); a pass costs less per event the more it takes (a one-event append: 90 us with
passes of 1,000, 74 with 5,000)."""
INDEX_IDLE_SECONDS = 0.5
"""Fewer pending events are indexed this long after the first of them."""
_VERSIONS_KEPT = 200_000
"""Aggregate versions the writer remembers from its own commits, so that an append reads
none of its aggregates' versions back (a batch of 100 read 100). They stay true while no
other connection writes, which ``PRAGMA data_version`` tells at the start of each write."""


class _Undo(Exception):
    """Roll back the transaction of a lone append that was refused while writing."""

    def __init__(self, refusal: ChronikError) -> None:
        super().__init__(refusal)
        self.refusal = refusal


@dataclass(slots=True)
class Written:
    """The outcome of appends written in a transaction, for after it commits."""

    outcomes: list[AppendOutcome]
    heads: dict[int, int]
    names: set[tuple[int, str, str]]
    events: int = 0
    versions: dict[tuple[int, str, str], int] | None = None


class SQLiteEventStore:
    committers = 1
    commits_inline = True

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._keys = db.keys
        self._known_names: set[tuple[int, str, str]] = set()
        self._committed = asyncio.Event()
        self._versions: dict[tuple[int, str, str], int] = {}
        self._heads: dict[int, int] = {}
        """Each tenant's last sequence, as this writer committed it (true while no other
        connection writes, as the versions)."""
        self._data_version = -1
        self._pending = 0
        self._any_pending = asyncio.Event()
        self._index_due = asyncio.Event()
        self._indexer: asyncio.Task[None] | None = None

    # -- writing ---------------------------------------------------------------------------

    async def commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        written: list[Written] = []

        def commit(con: sqlite3.Connection) -> None:
            written[:] = [self.append_in(con, appends, alone=len(appends) == 1)]

        try:
            await self._db.write(commit)
        except _Undo as undo:  # write() rolled back the rows written before the refusal
            return [undo.refusal]
        self.committed(written[0])
        return written[0].outcomes

    def append_in(
        self, con: sqlite3.Connection, appends: Sequence[PendingAppend], *, alone: bool = False
    ) -> Written:
        """Write ``appends`` in the caller's open write transaction; once it commits, hand
        the result to :meth:`committed`.

        ``alone``: the transaction holds nothing but this one append, so a refusal while
        writing rolls all of it back (raising :class:`_Undo`) instead of a savepoint: two
        statements fewer for the commonest append."""
        outcomes: list[AppendOutcome] = []
        new_names: set[tuple[int, str, str]] = set()
        data_version = con.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._data_version:  # another connection wrote: forget
            self._versions.clear()
            self._heads.clear()
            self._data_version = data_version
        last = con.execute(Q["last_created_at"]).fetchone()
        now = max(time.time_ns() // 1000, last[0] if last else 0)
        created_at = from_micros(now)
        versions: dict[tuple[int, str, str], int] = {}
        heads: dict[int, int] = {}
        written = 0
        for append in appends:
            try:
                stored, new = self._append_one(
                    con, append, heads, now, created_at, versions, new_names, alone
                )
            except ChronikError as err:
                outcomes.append(err)
                continue
            outcomes.append(stored)
            if new:
                written += len(stored)
        return Written(outcomes, heads, new_names, written, versions)

    def committed(self, written: Written) -> None:
        """What :meth:`append_in` wrote is committed: wake the followers, and index the
        pending events once there are enough of them."""
        self._known_names |= written.names
        if written.versions:
            if len(self._versions) > _VERSIONS_KEPT:
                self._versions.clear()
            self._versions.update(written.versions)
        self._heads.update(written.heads)
        if written.events:
            self._committed.set()
            self._committed = asyncio.Event()
            self._pending += written.events
            self._any_pending.set()
            if self._indexer is None:
                self._indexer = asyncio.create_task(self._index_loop(), name="chronik-index")
            if self._pending >= INDEX_EVERY:
                self._index_due.set()

    async def _index_loop(self) -> None:
        """Index passes on the writer, between group commits. The first one also takes
        what another process (or a crash) left pending."""
        while True:
            await self.index_pending()
            while not self._pending:
                self._any_pending.clear()
                await self._any_pending.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._index_due.wait(), INDEX_IDLE_SECONDS)

    async def index_pending(self) -> None:
        """Put every pending event into the filter indexes (migration 0009)."""
        self._index_due.clear()
        self._pending = 0

        def index(con: sqlite3.Connection) -> None:
            con.execute(Q["indexing_pass"])
            con.execute(Q["indexing_position"])

        try:
            await self._db.write(index)
        except ChronikError as exc:  # reads still find the pending events
            log.warning("indexing pending events failed (tried again shortly): %s", exc)
            self._pending = max(self._pending, 1)

    async def close(self) -> None:
        """Stop indexing and index what this process left pending. (What a crash leaves
        pending is still found by every read, and indexed by the next writer's first pass.)"""
        if self._indexer is not None:
            self._indexer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._indexer
            self._indexer = None
        if self._pending:
            await self.index_pending()

    def _append_one(
        self,
        con: sqlite3.Connection,
        append: PendingAppend,
        heads: dict[int, int],
        now: int,
        created_at: datetime,
        versions: dict[tuple[int, str, str], int],
        new_names: set[tuple[int, str, str]],
        alone: bool,
    ) -> tuple[list[Event], bool]:
        """The append's stored events, and whether this wrote them (not a retry's)."""
        tenant = self._keys.key(con, append.tenant_id)
        if append.client_locators:
            existing = self._existing(con, tenant, append)
            if existing is not None:
                return existing, False
        sequence = heads.get(tenant)
        if sequence is None:
            sequence = self._heads.get(tenant)
        if sequence is None:
            sequence = con.execute(Q["head"], {"tenant_key": tenant}).fetchone()[0]
        current: dict[tuple[str, str], int] = {}
        for aggregate in append.aggregates:
            key = (tenant, *aggregate)
            version = versions.get(key)
            if version is None:
                version = self._versions.get(key)
            if version is None:
                version = con.execute(Q["aggregate_version"], key).fetchone()[0] or 0
            current[aggregate] = version
        check_expected(append, current)
        rows = []
        stored = []
        editor = append.editor
        for e in append.events:
            sequence += 1
            version = current[(e.aggregate_type, e.aggregate_id)] + 1
            current[(e.aggregate_type, e.aggregate_id)] = version
            rows.append(
                (
                    sequence,
                    tenant,
                    e.locator,
                    e.aggregate_type,
                    e.aggregate_id,
                    version,
                    e.resource_owner,
                    e.type,
                    e.revision,
                    e.payload_json,
                    editor.user_id,
                    editor.service,
                    append.request_id,
                    now,
                    e.correlation_id or "",
                    e.causation_id or "",
                    e.metadata_json or "",
                )
            )
            stored.append(stored_event(append, e, sequence, version, created_at))
        names = {(tenant, "event", e.type) for e in append.events}
        names |= {(tenant, "aggregate", e.aggregate_type) for e in append.events}
        names -= self._known_names
        if not alone:
            con.execute("SAVEPOINT append")
        try:
            con.executemany(Q["insert_event"], rows)
            if names:
                con.executemany(Q["insert_name"], names)
        except sqlite3.IntegrityError as exc:
            refused = Conflict("an event locator of this append is already used")
            if alone:
                raise _Undo(refused) from exc
            con.execute("ROLLBACK TO append")
            con.execute("RELEASE append")
            raise refused from exc
        if not alone:
            con.execute("RELEASE append")
        new_names |= names
        for aggregate, version in current.items():
            versions[(tenant, *aggregate)] = version
        heads[tenant] = sequence
        return stored, True

    def _existing(
        self, con: sqlite3.Connection, tenant: int, append: PendingAppend
    ) -> list[Event] | None:
        """The stored events of an earlier append with the same locators, if this is a retry."""
        locators = [e.locator for e in append.events]
        rows = con.execute(Q["events_by_locators"], (json.dumps(locators),)).fetchall()
        if not rows:
            return None
        if len(rows) == len(locators) and all(r[1] == tenant for r in rows):
            by_locator = {r[2]: r for r in rows}
            return _events(self._keys, con, [by_locator[loc] for loc in locators])
        raise Conflict(LOCATOR_TAKEN)

    # -- reading ---------------------------------------------------------------------------

    async def search(self, query: EventFilter) -> list[Event]:
        def run(con: sqlite3.Connection) -> list[Event]:
            tenant = self._keys.key(con, query.tenant_id)
            lead, scans = search.split(query, _narrowest(con, tenant, query))
            pages = []
            for scan in scans:
                sql, params = search.compose(Q, lead, scan, json.dumps)
                params["tenant_key"] = tenant
                pages.append(_events(self._keys, con, con.execute(sql, params).fetchall()))
            return search.merge(pages, query.asc, query.limit)

        return await self._db.read(run)

    async def read_after(self, tenant_id: str, after: int, limit: int) -> list[Event]:
        def run(con: sqlite3.Connection) -> list[Event]:
            tenant = self._keys.key(con, tenant_id)
            params = {"tenant_key": tenant, "after": after, "limit": limit}
            rows = con.execute(Q["read_after_tenant"], params).fetchall()
            return _events(self._keys, con, rows)

        return await self._db.read(run)

    async def get(self, tenant_id: str, locator: str) -> Event | None:
        def run(con: sqlite3.Connection) -> Event | None:
            tenant = self._keys.key(con, tenant_id)
            row = con.execute(Q["get_event"], (locator, tenant)).fetchone()
            return _events(self._keys, con, [row])[0] if row else None

        return await self._db.read(run)

    async def of_request(self, tenant_id: str, request_id: str) -> list[Event]:
        def run(con: sqlite3.Connection) -> list[Event]:
            tenant = self._keys.key(con, tenant_id)
            params = {"request_id": request_id, "tenant_key": tenant}
            rows = con.execute(Q["events_of_request"], params).fetchall()
            return _events(self._keys, con, rows)

        return await self._db.read(run)

    async def sequence_at(self, tenant_id: str, at: datetime, *, inclusive: bool) -> int:
        name = "sequence_at_or_after" if inclusive else "sequence_after"

        def run(con: sqlite3.Connection) -> int:
            tenant = self._keys.key(con, tenant_id)
            params = {"tenant_key": tenant, "at": micros(at)}
            found, indexed_end = con.execute(Q[name], params).fetchone()
            if found < indexed_end:
                return int(found)
            row = con.execute(
                Q["sequence_at_pending"], params | {"inclusive": inclusive}
            ).fetchone()
            if row:
                return int(row[0])
            return int(con.execute(Q["head"], {"tenant_key": tenant}).fetchone()[0]) + 1

        return await self._db.read(run)

    async def head(self, tenant_id: str) -> int:
        def run(con: sqlite3.Connection) -> int:
            tenant = self._keys.key(con, tenant_id)
            return int(con.execute(Q["head"], {"tenant_key": tenant}).fetchone()[0])

        return await self._db.read(run)

    def commit_signal(self) -> asyncio.Event:
        return self._committed

    async def names(self, tenant_id: str, kind: str) -> list[str]:
        def run(con: sqlite3.Connection) -> list[str]:
            tenant = self._keys.key(con, tenant_id)
            return [r[0] for r in con.execute(Q["names"], (tenant, kind)).fetchall()]

        return await self._db.read(run)


def _narrowest(con: sqlite3.Connection, tenant: int, query: EventFilter) -> search.Lead | None:
    """The narrowest of the query's wider leads by a bounded probe of each one's index (SQLite
    scans the index it is told, so it must be told the right one); None when there is no
    choice to make."""
    widths: dict[search.Lead, int] = {
        lead: sum(
            con.execute(
                Q[f"probe_{lead}"],
                {"tenant_key": tenant, "value": value, "probe": search.PROBE},
            ).fetchone()[0]
            for value in values
        )
        for lead, values in search.candidates(query).items()
    }
    if not widths:
        return None
    return min(widths, key=widths.__getitem__)
