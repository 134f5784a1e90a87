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
    TokenRecord,
    ViewCommit,
    ViewState,
    Webhook,
)

AppendOutcome = list[Event] | ChronikError


class EventStore(Protocol):
    committers: int
    """How many group commits this backend usefully runs at once."""
    commits_inline: bool
    """Whether :meth:`commit_group` runs on the caller's thread without yielding to the loop
    (but to wait for another process's lock) and may be cancelled whenever it yields: then an
    append that finds the committer idle commits itself, without a hand-off to its task."""

    async def commit_group(self, appends: Sequence[PendingAppend]) -> list[AppendOutcome]:
        """Commit several independent appends in one transaction.

        Each append is atomic on its own: its outcome is either all of its stored events or
        the error that refused it (and wrote none of it). Sequences are assigned in commit
        order within each tenant, so a reader of a tenant's ``sequence > n`` never misses one
        that commits later.
        """
        ...

    async def search(self, query: EventFilter) -> list[Event]: ...

    async def read_after(self, tenant_id: str, after: int, limit: int) -> list[Event]:
        """The tenant's events with ``sequence > after``, in sequence order."""
        ...

    async def get(self, tenant_id: str, locator: str) -> Event | None: ...

    async def of_request(self, tenant_id: str, request_id: str) -> list[Event]: ...

    async def sequence_at(self, tenant_id: str, at: datetime, *, inclusive: bool) -> int:
        """The tenant's first sequence created at (or after, when not ``inclusive``) ``at``.

        Creation dates never decrease along a tenant's sequence, so a time bound is a
        sequence bound. Past the head this is ``head + 1``.
        """
        ...

    async def head(self, tenant_id: str) -> int:
        """The tenant's highest committed sequence (0 before its first event)."""
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

    async def create_first(self, token: TokenRecord) -> bool:
        """Create ``token`` only if its tenant has no token at all, decided as one step
        however many processes try at once; whether it did."""
        ...

    async def find(self, secret_hash: bytes) -> TokenRecord | None:
        """The token whose bearer string hashes to ``secret_hash``."""
        ...

    async def list(self, tenant_id: str) -> list[TokenRecord]: ...

    async def revoke(self, tenant_id: str, token_id: str, at: datetime) -> bool:
        """Revoke a token of ``tenant_id``; False when it does not exist or is revoked."""
        ...


class ViewStore(Protocol):
    """Positions, failed events and rows of views, per view and tenant.

    A runner owns a (view, tenant) while its lease lasts; its commits are compare-and-set
    on position, generation and owner, so a runner that lost the view (to a reset, an
    operator's removal, or another node after its lease ran out) writes nothing."""

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
        """Take or renew the lease of ``owner`` (creating the view's row at position 0,
        unless ``create`` is false: then a view with no row is not claimed);
        None while another owner's lease lasts."""
        ...

    async def release(self, view: str, tenant_id: str, owner: str) -> None: ...

    async def state(self, view: str, tenant_id: str) -> ViewState | None: ...

    async def rows(self, view: str, tenant_id: str, keys: Sequence[str]) -> dict[str, str]:
        """The stored JSON texts of those of ``keys`` that exist."""
        ...

    async def rows_with_prefix(self, view: str, tenant_id: str, prefix: str) -> dict[str, str]:
        """The stored JSON texts of every key starting with ``prefix``, ordered by key."""
        ...

    async def read_rows(
        self, view: str, tenant_id: str, *, prefix: str, after: str | None, limit: int
    ) -> tuple[int, list[tuple[str, str]]] | None:
        """Up to ``limit`` rows (key and stored JSON text) whose key starts with ``prefix``
        and sorts after ``after``, ordered by key in code point order, with the view's
        position, read in one snapshot; None when the view has no stored state."""
        ...

    async def commit(self, batch: ViewCommit) -> bool:
        """Apply ``batch`` atomically; False (and nothing written) if the view moved on."""
        ...

    async def pending(self, view: str, tenant_id: str) -> list[FailedEvent]:
        """The failed events the runner must look at: those after the view's position (it
        waits on them) and those an operator asked to retry."""
        ...

    async def states(self, tenant_id: str) -> list[ViewState]: ...

    async def failed(
        self,
        tenant_id: str,
        *,
        view: str | None = None,
        min_failures: int = 0,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> list[FailedEvent]:
        """Failed events of a tenant ordered by (view, sequence), after the ``after`` key."""
        ...

    async def count_failed(self, tenant_id: str, view: str) -> int: ...

    async def remove_failed(self, tenant_id: str, view: str, sequence: int) -> bool:
        """Delete the record; if the view waits on that event, it moves past it."""
        ...

    async def retry_failed(
        self, tenant_id: str, view: str, sequence: int | None, at: datetime
    ) -> int:
        """Ask the runner to try one (or every) failed event of a view again at ``at``."""
        ...

    async def reset(self, tenant_id: str, view: str) -> bool:
        """Back to position 0 with a new generation; its rows and failed events gone."""
        ...

    async def failed_again(
        self, tenant_id: str, view: str, sequence: int, error: str, at: datetime
    ) -> bool:
        """Count one more failure of a failed event that was run outside its view."""
        ...

    async def set_paused(self, tenant_id: str, view: str, database: str, paused: bool) -> None:
        """Pause or resume a view (one that never ran gets its row, paused)."""
        ...


class WebhookStore(Protocol):
    async def create(self, webhook: Webhook, position: int) -> None:
        """Store a new webhook, its view starting after ``position`` (its tenant's head)."""
        ...

    async def get(self, tenant_id: str, locator: str) -> Webhook | None: ...

    async def of_tenant(self, tenant_id: str) -> list[Webhook]: ...

    async def unsuspended(self) -> list[Webhook]:
        """Every tenant's webhooks that are not suspended (the deliverers' work)."""
        ...

    async def replace(self, webhook: Webhook) -> bool: ...

    async def set_suspended(self, tenant_id: str, locator: str, at: datetime | None) -> bool: ...

    async def delete(self, tenant_id: str, locator: str, view: str) -> bool:
        """Forget a webhook and its view (position, failed events, rows), in one transaction."""
        ...


class GroupStore(Protocol):
    async def create(self, group: ConsumerGroup, position: int) -> None:
        """Store a new group reading after ``position``; :class:`AlreadyExists` if taken."""
        ...

    async def get(self, tenant_id: str, name: str) -> ConsumerGroup | None: ...

    async def of_tenant(self, tenant_id: str) -> list[ConsumerGroup]: ...

    async def delete(self, tenant_id: str, name: str, view: str) -> bool: ...

    async def reclaim(
        self, group: ConsumerGroup, consumer: str, now: datetime, limit: int
    ) -> list[Lent]:
        """In one transaction: park what was handed out ``max_deliveries`` times without an
        acknowledgement in time, and lend ``consumer`` the rest of what ran past its lease
        and the failed events that are due (at most ``limit``)."""
        ...

    async def advance(
        self,
        group: ConsumerGroup,
        expected: int,
        position: int,
        sequences: Sequence[int],
        consumer: str,
        now: datetime,
    ) -> bool:
        """Move the read position from ``expected`` to ``position`` and lend ``consumer``
        ``sequences``, in one transaction; False (and nothing written) if it had moved."""
        ...

    async def settle(
        self,
        group: ConsumerGroup,
        sequences: Sequence[int],
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> list[int]:
        """Take ``sequences`` out of flight (those that were in it, returned):
        acknowledged, or with ``error`` kept as failed events, due at ``retry_at`` (None,
        or handed out ``max_deliveries`` times: parked)."""
        ...

    async def in_flight(self, tenant_id: str, name: str) -> int: ...


class ScheduleStore(Protocol):
    """Schedules and their failed jobs. A node claims due schedules with a lease; a firing
    commits its event and the schedule's next fire time in one transaction, only while the
    node still holds the claim."""

    async def create(self, schedules: Sequence[Schedule]) -> None:
        """Store new schedules, all or none; :class:`AlreadyExists` when a (group, name) is
        taken."""
        ...

    async def replace(self, schedule: Schedule) -> bool:
        """Store a new definition of an existing schedule; False when there is none."""
        ...

    async def get(self, tenant_id: str, group: str, name: str) -> Schedule | None: ...

    async def find(
        self,
        tenant_id: str,
        *,
        group: str | None = None,
        policy_locator: str | None = None,
        offset: int = 0,
        count: int = 1000,
    ) -> list[Schedule]:
        """Ordered by (group, name)."""
        ...

    async def delete(self, tenant_id: str, group: str, name: str) -> bool:
        """Delete a schedule and its failed job."""
        ...

    async def set_paused(
        self, tenant_id: str, group: str, name: str, paused: bool, now: datetime
    ) -> bool: ...

    async def resume_failed(self, tenant_id: str, group: str, name: str, now: datetime) -> bool:
        """Out of ERROR (and pause), due at ``now``; False when it has no failed job."""
        ...

    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[tuple[Schedule, str | None, int]]:
        """Claim due schedules for ``owner`` until ``until``: each with the owner whose claim
        ran out (a node that died while firing it) and its failed job's count."""
        ...

    async def next_due(self) -> datetime | None:
        """The earliest fire time of any schedule that may fire."""
        ...

    async def fire(self, firings: Sequence[Firing]) -> list[bool]:
        """Commit the firings in one transaction: each appends its event and moves to its
        next fire time (and loses its failed job), if its claim still holds."""
        ...

    async def fail(self, failure: FiringFailure) -> bool:
        """Record a failed firing and release the claim, if it still holds."""
        ...

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
        """Ordered by (group, name)."""
        ...

    async def failed_job_counts(self, tenant_id: str) -> dict[str, int]:
        """How many failed jobs the tenant has in each state (states without any left out)."""
        ...

    async def delete_failed(self, tenant_id: str, group: str, name: str) -> bool: ...

    async def export(
        self, tenant_id: str, after: tuple[str, str], limit: int
    ) -> list[tuple[Schedule, FailedJob | None]]:
        """Schedules with their failed jobs, ordered by (group, name) and after ``after``:
        a backup pages through any number of them in constant memory."""
        ...

    async def restore(self, schedule: Schedule, failed_job: FailedJob | None) -> bool:
        """Store a schedule from a backup with its state as given (fire time, counts, pause,
        error; no claim) and its failed job, in one transaction; False, and nothing
        written, when its (group, name) is taken."""
        ...


class ActionRunStore(Protocol):
    """The execution records of actions, newest first."""

    async def add(self, runs: Sequence[ActionRun]) -> None: ...

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
        """Runs ordered by id (start time), newest first; ``before`` is the id to go on
        below."""
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

    @property
    def views(self) -> ViewStore: ...

    @property
    def schedules(self) -> ScheduleStore: ...

    @property
    def action_runs(self) -> ActionRunStore: ...

    @property
    def webhooks(self) -> WebhookStore: ...

    @property
    def groups(self) -> GroupStore: ...

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        ...

    async def schema_version(self) -> int: ...

    async def secret(self, name: str) -> bytes:
        """A random secret kept in the database (created on first use), e.g. for tokens."""
        ...

    async def close(self) -> None: ...
