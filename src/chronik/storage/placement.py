"""Tenants placed across PostgreSQL databases.

:class:`PlacedDatabase` is a :class:`~chronik.storage.ports.Database` made of several: the
*directory* (the database of ``--database-url``) keeps the tenants, their tokens, the
secrets and where each tenant lives; each call of a port goes to the database of its tenant,
and the calls that span tenants (claiming due schedules, listing webhooks to deliver,
waiting for commits) ask every database. The capabilities above never know.

A tenant with no placement row (one created before placement was turned on) lives in the
directory's database. New tenants go to the configured database holding the fewest.

:meth:`PlacedDatabase.move` moves a tenant: it copies the events while writes go on, fences
the source (``chronik_fence`` in migration 0016: every write of the tenant there fails from
then on, after those already under way commit), copies the rest and the tenant's records,
and points the directory at the target. A write that meets the fence waits here for the
cutover and goes again to the new database, so callers see a pause, not an error. Every step
can be repeated: running an interrupted move again finishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from chronik.errors import (
    AlreadyExists,
    ChronikError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    TenantMoved,
)
from chronik.records import (
    ActionRun,
    ConsumerGroup,
    Event,
    EventFilter,
    FailedEvent,
    FailedJob,
    Firing,
    FiringFailure,
    Lent,
    PendingAppend,
    Schedule,
    Tenant,
    ViewCommit,
    ViewState,
    Webhook,
)
from chronik.storage.ports import AppendOutcome
from chronik.storage.postgres import placement as pg
from chronik.storage.postgres.database import PostgresDatabase

T = TypeVar("T")
log = logging.getLogger(__name__)
STEADY_EVENTS = 100
"""A move fences the source once a round of copying found fewer events than this to copy
(or after ``COPY_ROUNDS``): the write pause is the copy of what is left and of the records.
Under writes, each round copies what the writers added during the one before, a few times
faster than they add it."""
COPY_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class Moved:
    """What :meth:`PlacedDatabase.move` did."""

    tenant: Tenant
    source: str
    target: str
    events: int
    """Events the tenant has in the target."""
    paused_seconds: float
    """How long writes of the tenant waited (from the fence to the cutover)."""
    seconds: float
    outcome: str
    """``moved``, ``already there`` or ``abandoned`` (a move under way was called off)."""


class PlacedDatabase:
    """The directory and the tenant databases, routed by tenant."""

    def __init__(
        self,
        directory: PostgresDatabase,
        databases: Sequence[PostgresDatabase],
        *,
        wait_seconds: float = 30.0,
        cache_seconds: float = 2.0,
    ) -> None:
        self.url = directory.url
        self.home = pg.identity(directory.url)
        self.directory = pg.Directory(directory)
        self.databases: dict[str, PostgresDatabase] = {self.home: directory}
        for db in databases:
            self.databases.setdefault(pg.identity(db.url), db)
        self.targets = [pg.identity(db.url) for db in databases]
        """Where new tenants go (the directory's database only if it is named too)."""
        self.wait_seconds = wait_seconds
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, pg.Placement]] = {}
        self._loading: dict[str, asyncio.Future[pg.Placement]] = {}
        self._ensured: set[tuple[str, str]] = set()
        self.events = PlacedEventStore(self)
        self.tenants = PlacedTenantStore(self)
        self.tokens = directory.tokens
        self.views = PlacedViewStore(self)
        self.schedules = PlacedScheduleStore(self)
        self.action_runs = PlacedActionRunStore(self)
        self.webhooks = PlacedWebhookStore(self)
        self.groups = PlacedGroupStore(self)

    @property
    def home_db(self) -> PostgresDatabase:
        return self.databases[self.home]

    # -- routing ---------------------------------------------------------------------------

    async def placement(self, tenant_id: str, *, fresh: bool = False) -> pg.Placement:
        """Where the tenant lives, as read from the directory at most ``cache_seconds`` ago."""
        hit = self._cache.get(tenant_id)
        if hit is not None and not fresh and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        loading = self._loading.get(tenant_id)
        if loading is None:  # one read of the directory however many callers wait for it
            loading = self._loading[tenant_id] = asyncio.ensure_future(self._load(tenant_id))
            loading.add_done_callback(lambda _: self._loading.pop(tenant_id, None))
        return await asyncio.shield(loading)

    async def _load(self, tenant_id: str) -> pg.Placement:
        now = time.monotonic()
        found = await self.directory.get(tenant_id)
        if found is None:
            tenant = await self.home_db.tenants.get(tenant_id)
            if tenant.id != tenant_id:
                raise NotFound(f"tenant {tenant_id!r} not found")
            found = pg.Placement(self.home)
        self._cache[tenant_id] = (now, found)
        return found

    async def database_of(self, tenant_id: str, *, fresh: bool = False) -> PostgresDatabase:
        return self.databases[await self.name_of(tenant_id, fresh=fresh)]

    async def name_of(self, tenant_id: str, *, fresh: bool = False) -> str:
        """The name of the tenant's database (``host:port/dbname``)."""
        where = (await self.placement(tenant_id, fresh=fresh)).database
        db = self.databases.get(where)
        if db is None:
            raise FailedPrecondition(
                f"tenant {tenant_id!r} lives in the database {where}, which this node was not "
                "given: add its URL to --tenant-databases (CHRONIK_TENANT_DATABASES)"
            )
        if where != self.home and (tenant_id, where) not in self._ensured:
            # The directory commits a tenant before its database has its row: a crash in
            # between leaves it to the first node that routes there.
            await pg.ensure_tenant(db, await self.home_db.tenants.get(tenant_id))
            self._ensured.add((tenant_id, where))
        return where

    async def call(self, tenant_id: str, work: Callable[[PostgresDatabase], Awaitable[T]]) -> T:
        """Run ``work`` on the tenant's database; if a move fenced it there, again on the
        tenant's database after the cutover."""
        db = await self.database_of(tenant_id)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                return await work(db)
            except TenantMoved:
                await self.settled([tenant_id], deadline)
                db = await self.database_of(tenant_id, fresh=True)

    async def settled(self, tenant_ids: Sequence[str], deadline: float) -> None:
        """Wait until no move of these tenants is under way (their writes were fenced), at
        least a moment: a write fenced with no move under way (a placement being changed
        right then) is tried again shortly, not in a tight loop."""
        if time.monotonic() >= deadline:
            raise TenantMoved(
                f"the tenants {sorted(set(tenant_ids))} are being moved to another database and "
                "the move has not finished; try again"
            )
        await asyncio.sleep(0.01)
        await self._settled(tenant_ids, deadline)

    async def _settled(self, tenant_ids: Sequence[str], deadline: float) -> None:
        delay = 0.02
        for tenant_id in set(tenant_ids):
            while (await self.placement(tenant_id, fresh=True)).moving_to is not None:
                if time.monotonic() + delay > deadline:
                    raise TenantMoved(
                        f"tenant {tenant_id!r} is being moved to another database and the move "
                        "has not finished; try again"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)

    async def split(self, tenant_ids: Sequence[str]) -> dict[str, list[int]]:
        """The positions of ``tenant_ids`` grouped by the database of each."""
        groups: dict[str, list[int]] = {}
        for i, tenant_id in enumerate(tenant_ids):
            groups.setdefault(await self.name_of(tenant_id), []).append(i)
        return groups

    async def fan_out(self, work: Callable[[PostgresDatabase], Awaitable[T]]) -> list[T]:
        """``work`` on every database at once; a database that fails is left out (and
        logged), so that one unavailable database does not stop the others' schedules and
        deliveries. If every one fails, the first failure is raised."""
        names = list(self.databases)
        found = await asyncio.gather(
            *(work(self.databases[name]) for name in names), return_exceptions=True
        )
        failures = [(n, f) for n, f in zip(names, found, strict=True) if isinstance(f, Exception)]
        for name, failure in failures:
            if not isinstance(failure, ChronikError):
                raise failure
            log.warning("the tenant database %s failed: %s", name, failure.message)
        if failures and len(failures) == len(found):
            raise failures[0][1]
        return [f for f in found if not isinstance(f, BaseException)]

    async def least_loaded(self) -> str:
        """The configured database holding the fewest tenants (the first of equals)."""
        counts = await self.directory.counts()
        unplaced = len(await self.home_db.tenants.list()) - sum(counts.values())
        counts[self.home] = counts.get(self.home, 0) + max(unplaced, 0)
        return min(self.targets, key=lambda name: (counts.get(name, 0), self.targets.index(name)))

    # -- moving ----------------------------------------------------------------------------

    async def move(
        self,
        tenant: str,
        to: str,
        *,
        batch: int = 50_000,
        grace_seconds: float | None = None,
        progress: Callable[[str], None] = lambda _: None,
    ) -> Moved:
        """Move ``tenant`` (id or name) to the database named ``to`` (its URL or
        ``host:port/dbname``); ``--to`` where it lives now calls off a move under way."""
        found = await self.home_db.tenants.get(tenant)
        async with self.directory.mover(found.id):
            return await self._move(found, self._name(to), batch, grace_seconds, progress)

    async def _move(
        self,
        found: Tenant,
        to: str,
        batch: int,
        grace_seconds: float | None,
        progress: Callable[[str], None],
    ) -> Moved:
        started = time.monotonic()
        target = self.databases[to]
        where = await self.placement(found.id, fresh=True)
        source = self.databases.get(where.database)
        if source is None:
            raise FailedPrecondition(f"the tenant lives in {where.database}, unknown to this node")

        def moved(outcome: str, events: int = 0, paused: float = 0.0) -> Moved:
            seconds = time.monotonic() - started
            return Moved(found, where.database, to, events, paused, seconds, outcome)

        if where.moving_to is None and where.database == to:
            await self._clear_leftovers(found.id, keep=to)
            return moved("already there", (await pg.head(target, found.id))[1])
        if where.moving_to is not None and where.moving_to != to:
            if to != where.database:
                raise FailedPrecondition(
                    f"the tenant is being moved to {where.moving_to}: finish that move (--to "
                    f"{where.moving_to}) or call it off (--to {where.database})"
                )
            progress(f"calling off the move to {where.moving_to}")
            await pg.freeze(source, found.id, None)
            await pg.clear(self.databases[where.moving_to], found.id)
            await self.directory.abandon(found.id)
            self._cache.pop(found.id, None)
            return moved("abandoned")
        if where.moving_to is None:
            if await self.directory.get(found.id) is None:
                await self.directory.place(found.id, where.database)
            await pg.ensure_tenant(target, found)
            await pg.clear(target, found.id)
            if not await self.directory.begin_move(found.id, to):
                raise FailedPrecondition("another move of the tenant began meanwhile")
        await pg.ensure_tenant(target, found)
        for _ in range(COPY_ROUNDS):
            last, _ = await pg.head(source, found.id)
            copied = await pg.copy_events(source, target, found.id, last, batch)
            progress(f"copied {copied} events (up to sequence {last})")
            if copied < STEADY_EVENTS:
                break
        fenced = time.monotonic()
        await pg.freeze(source, found.id, to)
        last, count = await pg.head(source, found.id)
        await pg.copy_records(source, target, found.id, last)
        if await pg.head(target, found.id) != (last, count):
            raise FailedPrecondition("the copy does not match the source; run the move again")
        if not await self.directory.cut_over(found.id, to):
            raise FailedPrecondition("the move was called off meanwhile; the source stays")
        paused = time.monotonic() - fenced
        self._cache.pop(found.id, None)
        progress(f"cut over after a write pause of {paused:.3f} s")
        # Nodes keep a placement for cache_seconds: until then some still read the source.
        await asyncio.sleep(self.cache_seconds + 1.0 if grace_seconds is None else grace_seconds)
        await self._clear_leftovers(found.id, keep=to)
        return moved("moved", count, paused)

    def _name(self, url_or_name: str) -> str:
        name = url_or_name if url_or_name in self.databases else None
        if name is None and "://" in url_or_name:
            name = pg.identity(url_or_name)
        if name is None or name not in self.databases:
            known = ", ".join(sorted(self.databases))
            raise InvalidArgument(
                f"{url_or_name!r} is not one of this node's databases ({known}); "
                "name one of them, or add its URL to --tenant-databases"
            )
        return name

    async def _clear_leftovers(self, tenant_id: str, *, keep: str) -> None:
        """Delete what a move left of the tenant in the databases it moved out of."""
        for name, db in self.databases.items():
            if name == keep:
                continue
            with contextlib.suppress(NotFound):
                if await pg.moved_to(db, tenant_id) is not None:
                    await pg.clear(db, tenant_id)

    # -- the database ----------------------------------------------------------------------

    async def migrate(self) -> list[int]:
        applied = await self.home_db.migrate()
        for name, db in self.databases.items():
            if name != self.home:
                await db.migrate()
        return applied

    async def schema_version(self) -> int:
        return await self.home_db.schema_version()

    async def secret(self, name: str) -> bytes:
        return await self.home_db.secret(name)

    async def open(self) -> None:
        for db in self.databases.values():
            await db.open()

    async def close(self) -> None:
        await self.events.close()
        for db in self.databases.values():
            await db.close()


class PlacedTenantStore:
    def __init__(self, placed: PlacedDatabase) -> None:
        self._p = placed

    async def create(self, name: str, tenant_id: str | None = None) -> Tenant:
        tenant = Tenant(id=tenant_id or str(uuid.uuid4()), name=name, created_at=datetime.now(UTC))
        where = await self._p.least_loaded()
        try:
            await self._p.directory.create(tenant, where, elsewhere=where != self._p.home)
        except AlreadyExists as exc:
            if tenant_id is not None:
                raise AlreadyExists(
                    f"a tenant named {name!r} or with id {tenant_id!r} exists"
                ) from exc
            raise
        await self._p.database_of(tenant.id)
        return tenant

    async def get(self, id_or_name: str) -> Tenant:
        return await self._p.home_db.tenants.get(id_or_name)

    async def list(self) -> list[Tenant]:
        return await self._p.home_db.tenants.list()


class PlacedEventStore:
    committers = 2
    commits_inline = False

    def __init__(self, placed: PlacedDatabase) -> None:
        self._p = placed
        self._committed = asyncio.Event()
        self._watchers: list[asyncio.Task[None]] = []

    async def commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        """Each database's share of the group committed at once, as a group of its own; the
        shares that met a move's fence wait for its cutover and go again."""
        outcomes: list[AppendOutcome | None] = [None] * len(appends)
        todo = list(range(len(appends)))
        deadline = time.monotonic() + self._p.wait_seconds
        while todo:
            shares: dict[str, list[int]] = {}
            for i in todo:
                try:
                    shares.setdefault(await self._p.name_of(appends[i].tenant_id), []).append(i)
                except ChronikError as err:
                    outcomes[i] = err
            results: list[list[AppendOutcome] | BaseException]
            if len(shares) == 1:  # the usual group: no task of its own
                [(name, share)] = shares.items()
                try:
                    results = [await self._share(name, [appends[i] for i in share])]
                except ChronikError as exc:
                    results = [exc]
            else:
                results = await asyncio.gather(
                    *(
                        self._share(name, [appends[i] for i in share])
                        for name, share in shares.items()
                    ),
                    return_exceptions=True,
                )
            todo = []
            for share, result in zip(shares.values(), results, strict=True):
                if isinstance(result, TenantMoved):
                    todo.extend(share)
                elif isinstance(result, ChronikError):
                    for i in share:
                        outcomes[i] = result
                elif isinstance(result, BaseException):
                    raise result
                else:
                    for i, outcome in zip(share, result, strict=True):
                        outcomes[i] = outcome
            if todo:
                await self._p.settled([appends[i].tenant_id for i in todo], deadline)
                for i in todo:
                    await self._p.database_of(appends[i].tenant_id, fresh=True)
        return [o for o in outcomes if o is not None]

    async def _share(self, name: str, appends: list[PendingAppend]) -> list[AppendOutcome]:
        return await self._p.databases[name].events.commit_group(appends)

    async def search(self, query: EventFilter) -> list[Event]:
        return await self._p.call(query.tenant_id, lambda db: db.events.search(query))

    async def read_after(self, tenant_id: str, after: int, limit: int) -> list[Event]:
        return await self._p.call(
            tenant_id, lambda db: db.events.read_after(tenant_id, after, limit)
        )

    async def get(self, tenant_id: str, locator: str) -> Event | None:
        return await self._p.call(tenant_id, lambda db: db.events.get(tenant_id, locator))

    async def of_request(self, tenant_id: str, request_id: str) -> list[Event]:
        return await self._p.call(tenant_id, lambda db: db.events.of_request(tenant_id, request_id))

    async def sequence_at(self, tenant_id: str, at: datetime, *, inclusive: bool) -> int:
        return await self._p.call(
            tenant_id, lambda db: db.events.sequence_at(tenant_id, at, inclusive=inclusive)
        )

    async def head(self, tenant_id: str) -> int:
        return await self._p.call(tenant_id, lambda db: db.events.head(tenant_id))

    async def names(self, tenant_id: str, kind: str) -> list[str]:
        return await self._p.call(tenant_id, lambda db: db.events.names(tenant_id, kind))

    def commit_signal(self) -> asyncio.Event:
        """Set by the next commit in any of the databases."""
        if not self._watchers:
            self._watchers = [
                asyncio.create_task(self._watch(db), name=f"chronik-placed-commits-{name}")
                for name, db in self._p.databases.items()
            ]
        return self._committed

    async def _watch(self, db: PostgresDatabase) -> None:
        while True:
            await db.events.commit_signal().wait()
            self._committed.set()
            self._committed = asyncio.Event()

    async def close(self) -> None:
        for task in self._watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watchers = []


class PlacedViewStore:
    def __init__(self, placed: PlacedDatabase) -> None:
        self._p = placed

    async def claim(
        self,
        view: str,
        database: str,
        tenant_id: str,
        owner: str,
        now: datetime,
        until: datetime,
        *,
        create: bool = True,
    ) -> ViewState | None:
        return await self._p.call(
            tenant_id,
            lambda db: db.views.claim(view, database, tenant_id, owner, now, until, create=create),
        )

    async def release(self, view: str, tenant_id: str, owner: str) -> None:
        await self._p.call(tenant_id, lambda db: db.views.release(view, tenant_id, owner))

    async def state(self, view: str, tenant_id: str) -> ViewState | None:
        return await self._p.call(tenant_id, lambda db: db.views.state(view, tenant_id))

    async def rows(self, view: str, tenant_id: str, keys: Sequence[str]) -> dict[str, str]:
        return await self._p.call(tenant_id, lambda db: db.views.rows(view, tenant_id, keys))

    async def rows_with_prefix(self, view: str, tenant_id: str, prefix: str) -> dict[str, str]:
        return await self._p.call(
            tenant_id, lambda db: db.views.rows_with_prefix(view, tenant_id, prefix)
        )

    async def read_rows(
        self, view: str, tenant_id: str, *, prefix: str, after: str | None, limit: int
    ) -> tuple[int, list[tuple[str, str]]] | None:
        return await self._p.call(
            tenant_id,
            lambda db: db.views.read_rows(view, tenant_id, prefix=prefix, after=after, limit=limit),
        )

    async def commit(self, batch: ViewCommit) -> bool:
        return await self._p.call(batch.tenant_id, lambda db: db.views.commit(batch))

    async def pending(self, view: str, tenant_id: str) -> list[FailedEvent]:
        return await self._p.call(tenant_id, lambda db: db.views.pending(view, tenant_id))

    async def states(self, tenant_id: str) -> list[ViewState]:
        return await self._p.call(tenant_id, lambda db: db.views.states(tenant_id))

    async def failed(
        self,
        tenant_id: str,
        *,
        view: str | None = None,
        min_failures: int = 0,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> list[FailedEvent]:
        return await self._p.call(
            tenant_id,
            lambda db: db.views.failed(
                tenant_id, view=view, min_failures=min_failures, after=after, limit=limit
            ),
        )

    async def count_failed(self, tenant_id: str, view: str) -> int:
        return await self._p.call(tenant_id, lambda db: db.views.count_failed(tenant_id, view))

    async def remove_failed(self, tenant_id: str, view: str, sequence: int) -> bool:
        return await self._p.call(
            tenant_id, lambda db: db.views.remove_failed(tenant_id, view, sequence)
        )

    async def retry_failed(
        self, tenant_id: str, view: str, sequence: int | None, at: datetime
    ) -> int:
        return await self._p.call(
            tenant_id, lambda db: db.views.retry_failed(tenant_id, view, sequence, at)
        )

    async def reset(self, tenant_id: str, view: str) -> bool:
        return await self._p.call(tenant_id, lambda db: db.views.reset(tenant_id, view))

    async def failed_again(
        self, tenant_id: str, view: str, sequence: int, error: str, at: datetime
    ) -> bool:
        return await self._p.call(
            tenant_id, lambda db: db.views.failed_again(tenant_id, view, sequence, error, at)
        )

    async def set_paused(self, tenant_id: str, view: str, database: str, paused: bool) -> None:
        await self._p.call(
            tenant_id, lambda db: db.views.set_paused(tenant_id, view, database, paused)
        )


class PlacedWebhookStore:
    def __init__(self, placed: PlacedDatabase) -> None:
        self._p = placed

    async def create(self, webhook: Webhook, position: int) -> None:
        await self._p.call(webhook.tenant_id, lambda db: db.webhooks.create(webhook, position))

    async def get(self, tenant_id: str, locator: str) -> Webhook | None:
        return await self._p.call(tenant_id, lambda db: db.webhooks.get(tenant_id, locator))

    async def of_tenant(self, tenant_id: str) -> list[Webhook]:
        return await self._p.call(tenant_id, lambda db: db.webhooks.of_tenant(tenant_id))

    async def unsuspended(self) -> list[Webhook]:
        """Each database's, but a tenant's only from where it lives (a move's source holds
        them until its leftovers are cleared)."""
        found: list[Webhook] = []
        each = await self._p.fan_out(self._of)
        for webhooks in each:
            for name, webhook in webhooks:
                with contextlib.suppress(NotFound):
                    if (await self._p.placement(webhook.tenant_id)).database == name:
                        found.append(webhook)
        return found

    @staticmethod
    async def _of(db: PostgresDatabase) -> list[tuple[str, Webhook]]:
        name = pg.identity(db.url)
        return [(name, webhook) for webhook in await db.webhooks.unsuspended()]

    async def replace(self, webhook: Webhook) -> bool:
        return await self._p.call(webhook.tenant_id, lambda db: db.webhooks.replace(webhook))

    async def set_suspended(self, tenant_id: str, locator: str, at: datetime | None) -> bool:
        return await self._p.call(
            tenant_id, lambda db: db.webhooks.set_suspended(tenant_id, locator, at)
        )

    async def delete(self, tenant_id: str, locator: str, view: str) -> bool:
        return await self._p.call(
            tenant_id, lambda db: db.webhooks.delete(tenant_id, locator, view)
        )


class PlacedGroupStore:
    def __init__(self, placed: PlacedDatabase) -> None:
        self._p = placed

    async def create(self, group: ConsumerGroup, position: int) -> None:
        await self._p.call(group.tenant_id, lambda db: db.groups.create(group, position))

    async def get(self, tenant_id: str, name: str) -> ConsumerGroup | None:
        return await self._p.call(tenant_id, lambda db: db.groups.get(tenant_id, name))

    async def of_tenant(self, tenant_id: str) -> list[ConsumerGroup]:
        return await self._p.call(tenant_id, lambda db: db.groups.of_tenant(tenant_id))

    async def delete(self, tenant_id: str, name: str, view: str) -> bool:
        return await self._p.call(tenant_id, lambda db: db.groups.delete(tenant_id, name, view))

    async def reclaim(
        self, group: ConsumerGroup, consumer: str, now: datetime, limit: int
    ) -> list[Lent]:
        return await self._p.call(
            group.tenant_id, lambda db: db.groups.reclaim(group, consumer, now, limit)
        )

    async def advance(
        self,
        group: ConsumerGroup,
        expected: int,
        position: int,
        sequences: Sequence[int],
        consumer: str,
        now: datetime,
    ) -> bool:
        return await self._p.call(
            group.tenant_id,
            lambda db: db.groups.advance(group, expected, position, sequences, consumer, now),
        )

    async def settle(
        self,
        group: ConsumerGroup,
        sequences: Sequence[int],
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> list[int]:
        return await self._p.call(
            group.tenant_id,
            lambda db: db.groups.settle(group, sequences, now, error=error, retry_at=retry_at),
        )

    async def in_flight(self, tenant_id: str, name: str) -> int:
        return await self._p.call(tenant_id, lambda db: db.groups.in_flight(tenant_id, name))


class PlacedScheduleStore:
    def __init__(self, placed: PlacedDatabase) -> None:
        self._p = placed

    async def create(self, schedules: Sequence[Schedule]) -> None:
        tenants = {s.tenant_id for s in schedules}
        if len(tenants) > 1:
            raise ValueError("schedules are created for one tenant at a time")
        if tenants:
            await self._p.call(tenants.pop(), lambda db: db.schedules.create(schedules))

    async def replace(self, schedule: Schedule) -> bool:
        return await self._p.call(schedule.tenant_id, lambda db: db.schedules.replace(schedule))

    async def get(self, tenant_id: str, group: str, name: str) -> Schedule | None:
        return await self._p.call(tenant_id, lambda db: db.schedules.get(tenant_id, group, name))

    async def find(
        self,
        tenant_id: str,
        *,
        group: str | None = None,
        policy_locator: str | None = None,
        offset: int = 0,
        count: int = 1000,
    ) -> list[Schedule]:
        return await self._p.call(
            tenant_id,
            lambda db: db.schedules.find(
                tenant_id, group=group, policy_locator=policy_locator, offset=offset, count=count
            ),
        )

    async def delete(self, tenant_id: str, group: str, name: str) -> bool:
        return await self._p.call(tenant_id, lambda db: db.schedules.delete(tenant_id, group, name))

    async def set_paused(
        self, tenant_id: str, group: str, name: str, paused: bool, now: datetime
    ) -> bool:
        return await self._p.call(
            tenant_id, lambda db: db.schedules.set_paused(tenant_id, group, name, paused, now)
        )

    async def resume_failed(self, tenant_id: str, group: str, name: str, now: datetime) -> bool:
        return await self._p.call(
            tenant_id, lambda db: db.schedules.resume_failed(tenant_id, group, name, now)
        )

    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[tuple[Schedule, str | None, int]]:
        """Up to ``limit`` from each database (a moving tenant's are left where they wait
        for the cutover)."""
        claimed = await self._p.fan_out(lambda db: db.schedules.claim(owner, now, until, limit))
        return [c for found in claimed for c in found]

    async def next_due(self) -> datetime | None:
        due = [d for d in await self._p.fan_out(lambda db: db.schedules.next_due()) if d]
        return min(due) if due else None

    async def fire(self, firings: Sequence[Firing]) -> list[bool]:
        held: list[bool] = [False] * len(firings)
        for name, share in (await self._p.split([f.tenant_id for f in firings])).items():
            tenant = firings[share[0]].tenant_id
            fired = await self._fire_share(name, tenant, [firings[i] for i in share])
            for i, ok in zip(share, fired, strict=True):
                held[i] = ok
        return held

    async def _fire_share(self, name: str, tenant: str, firings: list[Firing]) -> list[bool]:
        db = self._p.databases[name]
        try:
            return await db.schedules.fire(firings)
        except TenantMoved:
            # One of them moved: each on its own, each to its tenant's database.
            return [await self._fire_one(f) for f in firings]

    async def _fire_one(self, firing: Firing) -> bool:
        fired = await self._p.call(firing.tenant_id, lambda db: db.schedules.fire([firing]))
        return fired[0]

    async def fail(self, failure: FiringFailure) -> bool:
        return await self._p.call(failure.tenant_id, lambda db: db.schedules.fail(failure))

    async def failed_jobs(
        self,
        tenant_id: str,
        *,
        policy_locator: str | None = None,
        group: str | None = None,
        state: str | None = None,
        offset: int = 0,
        count: int = 1000,
    ) -> list[FailedJob]:
        return await self._p.call(
            tenant_id,
            lambda db: db.schedules.failed_jobs(
                tenant_id,
                policy_locator=policy_locator,
                group=group,
                state=state,
                offset=offset,
                count=count,
            ),
        )

    async def failed_job_counts(self, tenant_id: str) -> dict[str, int]:
        return await self._p.call(tenant_id, lambda db: db.schedules.failed_job_counts(tenant_id))

    async def delete_failed(self, tenant_id: str, group: str, name: str) -> bool:
        return await self._p.call(
            tenant_id, lambda db: db.schedules.delete_failed(tenant_id, group, name)
        )

    async def export(
        self, tenant_id: str, after: tuple[str, str], limit: int
    ) -> list[tuple[Schedule, FailedJob | None]]:
        return await self._p.call(
            tenant_id, lambda db: db.schedules.export(tenant_id, after, limit)
        )

    async def restore(self, schedule: Schedule, failed_job: FailedJob | None) -> bool:
        return await self._p.call(
            schedule.tenant_id, lambda db: db.schedules.restore(schedule, failed_job)
        )


class PlacedActionRunStore:
    def __init__(self, placed: PlacedDatabase) -> None:
        self._p = placed

    async def add(self, runs: Sequence[ActionRun]) -> None:
        by_tenant: dict[str, list[ActionRun]] = {}
        for run in runs:
            by_tenant.setdefault(run.tenant_id, []).append(run)
        for tenant, mine in by_tenant.items():
            await self._add(tenant, mine)

    async def _add(self, tenant_id: str, runs: list[ActionRun]) -> None:
        await self._p.call(tenant_id, lambda db: db.action_runs.add(runs))

    async def list(
        self,
        tenant_id: str,
        *,
        organisation_id: str | None = None,
        action_id: str | None = None,
        outcome: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[ActionRun]:
        return await self._p.call(
            tenant_id,
            lambda db: db.action_runs.list(
                tenant_id,
                organisation_id=organisation_id,
                action_id=action_id,
                outcome=outcome,
                before=before,
                limit=limit,
            ),
        )
