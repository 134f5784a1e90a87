"""The event log on PostgreSQL: pipelined group commits under the head-row lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from chronik.errors import AlreadyExists, ChronikError, Conflict, NotFound
from chronik.records import Event, EventFilter, PendingAppend
from chronik.storage import search
from chronik.storage.append import LOCATOR_TAKEN, check_expected
from chronik.storage.append import stored as stored_event
from chronik.storage.ports import AppendOutcome
from chronik.storage.postgres.database import Q, TenantKeys

if TYPE_CHECKING:
    from chronik.storage.postgres.database import PostgresDatabase

log = logging.getLogger(__name__)


def _events(keys: TenantKeys, rows: list[Any]) -> list[Event]:
    """Rows in the column order of the queries to events: the hot loop of following."""
    ids = keys.ids
    return [
        Event(
            r[0],
            r[2],
            ids[r[1]],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            r[11],
            r[12],
            r[13],
        )
        for r in rows
    ]


_COPY_ABOVE = 16
"""Groups with more events than this are written with COPY, smaller ones with INSERTs."""


class _Plan:
    """What one group commit decided under the lock: rows to write, outcomes, new names."""

    def __init__(self, size: int) -> None:
        self.outcomes: list[AppendOutcome | None] = [None] * size
        self.rows: list[tuple[Any, ...]] = []
        self.names: set[tuple[int, str, str]] = set()
        self.sequence = 0


class PostgresEventStore:
    committers = 2

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._keys = db.keys
        self._known_names: set[tuple[int, str, str]] = set()
        self._head = 0
        self._committed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    # -- writing ---------------------------------------------------------------------------

    async def commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        try:
            return await self._commit_group(appends)
        except AlreadyExists:
            # A locator taken between our check and our insert, or by another tenant: commit
            # the appends one by one so that only the guilty one fails.
            if len(appends) == 1:
                return [Conflict("an event locator of this append is already used")]
            outcomes: list[AppendOutcome] = []
            for append in appends:
                outcomes.extend(await self.commit_group([append]))
            return outcomes

    async def _commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        async with self._db.connection() as conn:
            tenants = [await self._tenant_or_none(conn, a.tenant_id) for a in appends]
            lookups = [
                (tenant, *aggregate)
                for append, tenant in zip(appends, tenants, strict=True)
                if tenant is not None
                for aggregate in append.aggregates
            ]
            locators = [
                e.locator
                for append, tenant in zip(appends, tenants, strict=True)
                if tenant is not None and append.client_locators
                for e in append.events
            ]
            try:
                plan = await self._locked_plan(conn, appends, tenants, lookups, locators)
                if plan.rows:
                    await self._write(conn, plan)
                else:
                    await conn.execute(Q["commit"])
            except BaseException:
                if not conn.closed:
                    with contextlib.suppress(psycopg.Error):
                        await conn.execute(Q["rollback"])
                raise
        self._known_names |= plan.names
        self._wake(plan.sequence)
        return [o for o in plan.outcomes if o is not None]

    async def _tenant_or_none(
        self, conn: psycopg.AsyncConnection[Any], tenant_id: str
    ) -> int | None:
        try:
            return await self._keys.key(conn, tenant_id)
        except NotFound:
            return None

    async def _locked_plan(
        self,
        conn: psycopg.AsyncConnection[Any],
        appends: Sequence[PendingAppend],
        tenants: list[int | None],
        lookups: list[tuple[int, str, str]],
        locators: list[str],
    ) -> _Plan:
        """Phase one, one round trip: begin, take the append lock, read the head, the
        aggregates' versions and any reused locators; then decide every append."""
        async with conn.pipeline():
            await conn.execute(Q["begin"])
            await conn.execute(Q["lock_appends"])
            head_cur = await conn.execute(Q["last_event"])
            versions_cur = await conn.execute(
                Q["aggregate_versions"],
                ([k[0] for k in lookups], [k[1] for k in lookups], [k[2] for k in lookups]),
            )
            locators_cur = (
                await conn.execute(Q["events_by_locators"], (locators,)) if locators else None
            )
            head = await head_cur.fetchone()
            assert head is not None
            last_sequence, last_created_at, now = head
            current = {
                key: row[0] or 0
                for key, row in zip(lookups, await versions_cur.fetchall(), strict=True)
            }
            existing: dict[str, Any] = {}
            if locators_cur is not None:
                rows = await locators_cur.fetchall()
                existing = {r[2]: r for r in rows}
        if existing:
            await self._keys.learn(conn, (r[1] for r in existing.values()))
        created_at = max(now, last_created_at) if last_created_at else now
        return self._plan(appends, tenants, current, existing, last_sequence or 0, created_at)

    async def _write(self, conn: psycopg.AsyncConnection[Any], plan: _Plan) -> None:
        """Phase two: insert (COPY for large groups), record new names, notify, commit."""
        names = plan.names - self._known_names
        if len(plan.rows) > _COPY_ABOVE:
            async with conn.cursor().copy(Q["copy_events"]) as copy:
                for row in plan.rows:
                    await copy.write_row(row)
        async with conn.pipeline():
            if len(plan.rows) <= _COPY_ABOVE:
                await conn.cursor().executemany(Q["insert_event"], plan.rows)
            if names:
                await conn.execute(
                    Q["insert_names"],
                    ([n[0] for n in names], [n[1] for n in names], [n[2] for n in names]),
                )
            await conn.execute(Q["notify_commit"], (str(plan.sequence),))
            await conn.execute(Q["commit"])

    def _plan(
        self,
        appends: Sequence[PendingAppend],
        tenants: list[int | None],
        current: dict[tuple[int, str, str], int],
        existing: dict[str, Any],
        sequence: int,
        created_at: datetime,
    ) -> _Plan:
        plan = _Plan(len(appends))
        taken: dict[str, Event] = {}
        for i, (append, tenant) in enumerate(zip(appends, tenants, strict=True)):
            if tenant is None:
                plan.outcomes[i] = NotFound(f"tenant {append.tenant_id!r} not found")
                continue
            try:
                retry = self._retried(tenant, append, existing, taken)
                if retry is not None:
                    plan.outcomes[i] = retry
                    continue
                versions = {a: current[(tenant, *a)] for a in append.aggregates}
                check_expected(append, versions)
            except ChronikError as err:
                plan.outcomes[i] = err
                continue
            stored = []
            editor = append.editor
            for e in append.events:
                sequence += 1
                aggregate = (e.aggregate_type, e.aggregate_id)
                versions[aggregate] += 1
                plan.rows.append(
                    (
                        sequence,
                        tenant,
                        e.locator,
                        e.aggregate_type,
                        e.aggregate_id,
                        versions[aggregate],
                        e.resource_owner,
                        e.type,
                        e.revision,
                        e.payload_json,
                        editor.user_id,
                        editor.service,
                        append.request_id,
                        created_at,
                    )
                )
                event = stored_event(append, e, sequence, versions[aggregate], created_at)
                stored.append(event)
                taken[e.locator] = event
                plan.names.add((tenant, "event", e.type))
                plan.names.add((tenant, "aggregate", e.aggregate_type))
            for aggregate, version in versions.items():
                current[(tenant, *aggregate)] = version
            plan.outcomes[i] = stored
        plan.sequence = sequence
        return plan

    def _retried(
        self,
        tenant: int,
        append: PendingAppend,
        existing: dict[str, Any],
        taken: dict[str, Event],
    ) -> list[Event] | None:
        """The stored events of an earlier append with the same locators, if this is a retry."""
        if not append.client_locators:
            return None
        locators = [e.locator for e in append.events]
        stored = [loc for loc in locators if loc in existing]
        same_group = [loc for loc in locators if loc in taken]
        if not stored and not same_group:
            return None
        if len(stored) == len(locators) and all(existing[loc][1] == tenant for loc in locators):
            return _events(self._keys, [existing[loc] for loc in locators])
        if len(same_group) == len(locators) and all(
            taken[loc].tenant_id == append.tenant_id for loc in locators
        ):
            return [taken[loc] for loc in locators]
        raise Conflict(LOCATOR_TAKEN)

    def _wake(self, sequence: int) -> None:
        if sequence > self._head:
            self._head = sequence
            self._committed.set()
            self._committed = asyncio.Event()

    # -- reading ---------------------------------------------------------------------------

    async def _rows(self, sql: str, params: Any) -> list[Event]:
        async with self._db.connection() as conn:
            cur = await conn.execute(sql, params)
            rows = await cur.fetchall()
            await self._keys.learn(conn, (r[1] for r in rows))
        return _events(self._keys, rows)

    async def _tenant(self, tenant_id: str) -> int:
        key = self._keys.keys.get(tenant_id)
        if key is None:
            async with self._db.connection() as conn:
                key = await self._keys.key(conn, tenant_id)
        return key

    async def search(self, query: EventFilter) -> list[Event]:
        tenant = await self._tenant(query.tenant_id)
        lead, scans = search.split(query)
        async with self._db.connection() as conn:
            cursors = []
            async with conn.pipeline():
                for scan in scans:
                    sql, params = search.compose(Q, lead, scan)
                    params["tenant_key"] = tenant
                    cursors.append(await conn.execute(sql.encode(), params))
                pages = [_events(self._keys, await cur.fetchall()) for cur in cursors]
        return search.merge(pages, query.asc, query.limit)

    async def read_after(self, after: int, limit: int, tenant_id: str | None = None) -> list[Event]:
        if tenant_id is None:
            return await self._rows(Q["read_after"], (after, limit))
        tenant = await self._tenant(tenant_id)
        return await self._rows(Q["read_after_tenant"], (tenant, after, limit))

    async def get(self, tenant_id: str, locator: str) -> Event | None:
        tenant = await self._tenant(tenant_id)
        found = await self._rows(Q["get_event"], (locator, tenant))
        return found[0] if found else None

    async def of_request(self, tenant_id: str, request_id: str) -> list[Event]:
        tenant = await self._tenant(tenant_id)
        return await self._rows(Q["events_of_request"], (request_id, tenant))

    async def sequence_at(self, at: datetime, *, inclusive: bool) -> int:
        name = "sequence_at_or_after" if inclusive else "sequence_after"
        async with self._db.connection() as conn:
            cur = await conn.execute(Q[name], (at,))
            row = await cur.fetchone()
            if row:
                return int(row[0])
            cur = await conn.execute(Q["head"])
            head = await cur.fetchone()
        return (int(head[0]) if head else 0) + 1

    async def head(self) -> int:
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["head"])
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    def commit_signal(self) -> asyncio.Event:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())
        return self._committed

    async def _listen(self) -> None:
        """Turn NOTIFYs of other nodes' commits into wake-ups; reconnect when it drops.
        Waiters poll on their own timeout meanwhile, so a lost listener only slows them."""
        delay = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._db.url, autocommit=True)
                async with conn:
                    await conn.execute(Q["listen_commits"])
                    delay = 0.1
                    async for note in conn.notifies():
                        with contextlib.suppress(ValueError):
                            self._wake(int(note.payload))
            except psycopg.Error as exc:
                log.warning("commit listener lost its connection (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def names(self, tenant_id: str, kind: str) -> list[str]:
        tenant = await self._tenant(tenant_id)
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["names"], (tenant, kind))
            return [r[0] for r in await cur.fetchall()]

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
