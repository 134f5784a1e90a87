"""The event log on PostgreSQL: each group commit is one call of ``chronik_append``, or, for
a lone append without client-chosen locators that records no new type name, of
``chronik_append_one`` (one event) or ``chronik_append_many`` (several)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
import psycopg

from chronik.errors import AlreadyExists, Conflict, NotFound
from chronik.records import Event, EventFilter, PendingAppend
from chronik.storage import search
from chronik.storage.append import LOCATOR_TAKEN, check_expected, version_conflict
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
            r[14],
            r[15],
            {} if r[16] is None else r[16],
        )
        for r in rows
    ]


class _Call:
    """The argument of one ``chronik_append`` call, the group as one JSON document (see the
    function's migration), and the type names it records that were not known before."""

    def __init__(
        self, appends: list[tuple[int, PendingAppend, int]], known: set[tuple[int, str, str]]
    ) -> None:
        self.appends = appends
        self.new_names: list[set[tuple[int, str, str]]] = []
        self.written_names: set[tuple[int, str, str]] = set()
        self.heads: dict[int, int] = {}
        group: dict[str, list[dict[str, Any]]] = {
            "appends": [],
            "events": [],
            "aggregates": [],
            "expected": [],
            "names": [],
        }
        aggregates: dict[tuple[int, str, str], int] = {}
        for number, (_, append, tenant) in enumerate(appends, 1):
            group["appends"].append(
                {
                    "t": tenant,
                    "q": append.request_id,
                    "u": append.editor.user_id,
                    "s": append.editor.service,
                    "c": append.client_locators,
                    "n": len(append.events),
                }
            )
            for (aggregate_type, aggregate_id), version in append.expected.items():
                key = (tenant, aggregate_type, aggregate_id)
                g = aggregates.setdefault(key, len(aggregates) + 1)
                group["expected"].append({"a": number, "g": g, "v": version})
            names: set[tuple[int, str, str]] = set()
            for e in append.events:
                key = (tenant, e.aggregate_type, e.aggregate_id)
                g = aggregates.setdefault(key, len(aggregates) + 1)
                event = {
                    "a": number,
                    "g": g,
                    "l": e.locator,
                    "o": e.resource_owner,
                    "t": e.type,
                    "r": e.revision,
                    "p": msgspec.Raw(e.payload_json.encode()),
                }
                if e.correlation_id is not None:
                    event["c"] = e.correlation_id
                if e.causation_id is not None:
                    event["k"] = e.causation_id
                if e.metadata_json is not None:
                    event["m"] = msgspec.Raw(e.metadata_json.encode())
                group["events"].append(event)
                names.add((tenant, "event", e.type))
                names.add((tenant, "aggregate", e.aggregate_type))
            names -= known
            self.new_names.append(names)
            group["names"] += [{"a": number, "k": kind, "n": name} for _, kind, name in names]
        group["aggregates"] = [{"t": t, "a": a, "i": i} for t, a, i in aggregates]
        self.params = (_encode(group).decode(),)

    def written(self, number: int, last_sequence: int) -> None:
        """The append of ``number`` (0-based) was written, its last event at this sequence."""
        self.written_names |= self.new_names[number]
        tenant = self.appends[number][2]
        self.heads[tenant] = max(self.heads.get(tenant, 0), last_sequence)


_encode = msgspec.json.Encoder().encode


class _Lean:
    """A call of ``chronik_append_one`` or ``chronik_append_many``: it records no names (it
    runs only when all are)."""

    written_names: frozenset[tuple[int, str, str]] = frozenset()

    def __init__(self, tenant: int, last_sequence: int) -> None:
        self.heads = {tenant: last_sequence}


class _Many:
    """The argument of one ``chronik_append_many`` call, the append as one JSON document of
    columns (see the function's migration), and each event's aggregate (1-based, in
    ``append.aggregates``) and place among that aggregate's events of the append."""

    def __init__(self, append: PendingAppend) -> None:
        events, aggregates = append.events, append.aggregates
        index = {aggregate: i for i, aggregate in enumerate(aggregates, 1)}
        counts = [0] * (len(aggregates) + 1)
        self.aggregate: list[int] = []
        self.place: list[int] = []
        for e in events:
            i = index[e.aggregate_type, e.aggregate_id]
            counts[i] += 1
            self.aggregate.append(i)
            self.place.append(counts[i])
        columns: dict[str, list[Any]] = {
            "ga": [a for a, _ in aggregates],
            "gi": [i for _, i in aggregates],
            "g": self.aggregate,
            "n": self.place,
            "l": [e.locator for e in events],
            "o": [e.resource_owner for e in events],
            "t": [e.type for e in events],
            "r": [e.revision for e in events],
            "p": [msgspec.Raw(e.payload_json) for e in events],
        }
        if any(e.correlation_id is not None for e in events):
            columns["c"] = [e.correlation_id for e in events]
        if any(e.causation_id is not None for e in events):
            columns["k"] = [e.causation_id for e in events]
        if any(e.metadata_json is not None for e in events):
            columns["m"] = [
                None if e.metadata_json is None else msgspec.Raw(e.metadata_json) for e in events
            ]
        if append.expected:
            columns["xg"] = [index[aggregate] for aggregate in append.expected]
            columns["xv"] = list(append.expected.values())
        self.document = _encode(columns).decode()


def _first_repeat(appends: Sequence[PendingAppend]) -> int | None:
    """The position of the first append whose client-chosen locators an earlier append of
    the group also uses (``chronik_append`` checks locators against stored events only)."""
    seen: set[str] = set()
    for position, append in enumerate(appends):
        if not append.client_locators:
            continue  # fresh ULIDs: nothing earlier can hold them
        locators = {e.locator for e in append.events}
        if not seen.isdisjoint(locators):
            return position
        seen |= locators
    return None


class PostgresEventStore:
    committers = 2
    commits_inline = False

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._keys = db.keys
        self._known_names: set[tuple[int, str, str]] = set()
        self._heads: dict[int, int] = {}
        """Each tenant's last sequence this node knows committed (its own or NOTIFYed)."""
        self._committed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    # -- writing ---------------------------------------------------------------------------

    async def commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        try:
            return await self._commit_group(appends)
        except AlreadyExists:
            # A locator stored twice despite the checks (chronik_append looks for stored
            # locators under the lock, and a group never repeats client-chosen ones): commit
            # the appends one by one so that only the guilty one fails.
            if len(appends) == 1:
                return [Conflict(LOCATOR_TAKEN)]
            outcomes: list[AppendOutcome] = []
            for append in appends:
                outcomes.extend(await self.commit_group([append]))
            return outcomes

    async def _commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        """One call of ``chronik_append`` (one round trip, one transaction) for the group;
        retries read their stored events back afterwards."""
        split = _first_repeat(appends)
        if split is not None:
            first = await self._commit_group(appends[:split])
            return first + await self._commit_group(appends[split:])
        async with self._db.connection() as conn:
            outcomes, call, retries = await self._append_in(conn, appends)
            if call is not None:
                self.committed(call)
            if retries:
                await self._read_retries(conn, retries, outcomes)
        return [o for o in outcomes if o is not None]

    async def append_in(
        self, conn: psycopg.AsyncConnection[Any], appends: Sequence[PendingAppend]
    ) -> tuple[list[AppendOutcome], _Call | _Lean | None]:
        """Write ``appends`` (without client-chosen locators) in the caller's transaction
        on ``conn``; once it commits, hand the call to :meth:`committed`."""
        if any(a.client_locators for a in appends):
            raise ValueError("append_in takes no client-chosen locators")
        outcomes, call, _ = await self._append_in(conn, appends)
        return [o for o in outcomes if o is not None], call

    async def _append_in(
        self, conn: psycopg.AsyncConnection[Any], appends: Sequence[PendingAppend]
    ) -> tuple[list[AppendOutcome | None], _Call | _Lean | None, list[tuple[int, PendingAppend]]]:
        outcomes: list[AppendOutcome | None] = [None] * len(appends)
        known: list[tuple[int, PendingAppend, int]] = []
        for i, append in enumerate(appends):
            try:
                known.append((i, append, await self._keys.key(conn, append.tenant_id)))
            except NotFound as err:
                outcomes[i] = err
        if not known:
            return outcomes, None, []
        if len(known) == 1 and self._lean(known[0][1], known[0][2]):
            i, append, tenant = known[0]
            if self._one(append):
                outcomes[i], lean = await self._append_one(conn, append, tenant)
            else:
                outcomes[i], lean = await self._append_many(conn, append, tenant)
            return outcomes, lean, []
        call = _Call(known, self._known_names)
        cur = await conn.execute(Q["append"], call.params)
        rows = await cur.fetchall()
        retries = self._decide(call, rows, outcomes)
        return outcomes, call, retries

    def _lean(self, append: PendingAppend, tenant: int) -> bool:
        """Whether a lean function can write the append: fresh locators and type names this
        store has recorded (the cache fills only after commits, so a name it holds is
        stored)."""
        if append.client_locators:
            return False
        known = self._known_names
        events = append.events
        return all((tenant, "event", t) in known for t in {e.type for e in events}) and all(
            (tenant, "aggregate", a) in known for a in {e.aggregate_type for e in events}
        )

    @staticmethod
    def _one(append: PendingAppend) -> bool:
        """Whether ``chronik_append_one`` can write the (lean) append: one event, and an
        expected version for its own aggregate at most."""
        if len(append.events) != 1:
            return False
        e = append.events[0]
        return not append.expected or append.expected.keys() == {(e.aggregate_type, e.aggregate_id)}

    async def _append_one(
        self, conn: psycopg.AsyncConnection[Any], append: PendingAppend, tenant: int
    ) -> tuple[AppendOutcome, _Lean | None]:
        e = append.events[0]
        aggregate = (e.aggregate_type, e.aggregate_id)
        expected = append.expected.get(aggregate)
        cur = await conn.execute(
            Q["append_one"],
            (
                tenant,
                e.locator,
                e.aggregate_type,
                e.aggregate_id,
                e.resource_owner,
                e.type,
                e.revision,
                e.payload_json,
                append.editor.user_id,
                append.editor.service,
                append.request_id,
                e.correlation_id,
                e.causation_id,
                e.metadata_json,
                expected,
            ),
        )
        row = await cur.fetchone()
        assert row is not None  # the function returns one row, written or refused
        sequence, current, created_at = row
        if sequence is None:
            assert expected is not None  # only an expectation refuses
            return version_conflict(aggregate, expected, current), None
        return [stored_event(append, e, sequence, current + 1, created_at)], _Lean(tenant, sequence)

    async def _append_many(
        self, conn: psycopg.AsyncConnection[Any], append: PendingAppend, tenant: int
    ) -> tuple[AppendOutcome, _Lean | None]:
        call = _Many(append)
        editor = append.editor
        cur = await conn.execute(
            Q["append_many"],
            (tenant, append.request_id, editor.user_id, editor.service, call.document),
        )
        row = await cur.fetchone()
        assert row is not None  # the function returns one row, written or refused
        first, created_at, before = row
        if first is None:  # an expected version did not hold: tell which, as SQLite does
            try:
                check_expected(append, dict(zip(append.aggregates, before, strict=True)))
            except Conflict as conflict:
                return conflict, None
            raise AssertionError("chronik_append_many refused an append it should have written")
        stored = [
            stored_event(append, e, first + k, before[i - 1] + n, created_at)
            for k, (e, i, n) in enumerate(
                zip(append.events, call.aggregate, call.place, strict=True)
            )
        ]
        return stored, _Lean(tenant, first + len(stored) - 1)

    def committed(self, call: _Call | _Lean) -> None:
        """What a call wrote is committed: remember its names, wake the followers."""
        self._known_names |= call.written_names
        for tenant, sequence in call.heads.items():
            self._wake(tenant, sequence)

    def _decide(
        self,
        call: _Call,
        rows: list[Any],
        outcomes: list[AppendOutcome | None],
    ) -> list[tuple[int, PendingAppend]]:
        retries = []
        for number, ((i, append, _), row) in enumerate(zip(call.appends, rows, strict=True)):
            status, first, versions, created_at, agg_type, agg_id, expected, current = row
            if status == "written":
                outcomes[i] = [
                    stored_event(append, e, first + k, versions[k], created_at)
                    for k, e in enumerate(append.events)
                ]
                call.written(number, first + len(append.events) - 1)
            elif status == "retry":
                retries.append((i, append))
            elif status == "locator_taken":
                outcomes[i] = Conflict(LOCATOR_TAKEN)
            else:
                outcomes[i] = version_conflict((agg_type, agg_id), expected, current)
        return retries

    async def _read_retries(
        self,
        conn: psycopg.AsyncConnection[Any],
        retries: list[tuple[int, PendingAppend]],
        outcomes: list[AppendOutcome | None],
    ) -> None:
        locators = [e.locator for _, append in retries for e in append.events]
        cur = await conn.execute(Q["events_by_locators"], (locators,))
        by_locator = {r[2]: r for r in await cur.fetchall()}
        for i, append in retries:
            outcomes[i] = _events(self._keys, [by_locator[e.locator] for e in append.events])

    def _wake(self, tenant: int, sequence: int) -> None:
        """Wake the followers when a tenant's head moved: once per commit, not again for the
        NOTIFY of this node's own commit."""
        if sequence > self._heads.get(tenant, 0):
            self._heads[tenant] = sequence
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

    async def read_after(self, tenant_id: str, after: int, limit: int) -> list[Event]:
        tenant = await self._tenant(tenant_id)
        return await self._rows(Q["read_after_tenant"], (tenant, after, limit))

    async def get(self, tenant_id: str, locator: str) -> Event | None:
        tenant = await self._tenant(tenant_id)
        found = await self._rows(Q["get_event"], (locator, tenant))
        return found[0] if found else None

    async def of_request(self, tenant_id: str, request_id: str) -> list[Event]:
        tenant = await self._tenant(tenant_id)
        return await self._rows(Q["events_of_request"], (request_id, tenant))

    async def sequence_at(self, tenant_id: str, at: datetime, *, inclusive: bool) -> int:
        tenant = await self._tenant(tenant_id)
        name = "sequence_at_or_after" if inclusive else "sequence_after"
        async with self._db.connection() as conn:
            cur = await conn.execute(Q[name], (tenant, at))
            row = await cur.fetchone()
            if row:
                return int(row[0])
            cur = await conn.execute(Q["head"], (tenant,))
            head = await cur.fetchone()
        return (int(head[0]) if head else 0) + 1

    async def head(self, tenant_id: str) -> int:
        tenant = await self._tenant(tenant_id)
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["head"], (tenant,))
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
                        tenant, _, sequence = note.payload.partition(":")
                        with contextlib.suppress(ValueError):
                            self._wake(int(tenant), int(sequence))
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
