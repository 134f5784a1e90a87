"""What users do with schedules: create, read, list, replace, pause, resume and delete them;
list, resume and delete their failed jobs; and Socotra's tenant events, one-shot schedules
in the group ``tenant``. Every call is scoped to one tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from chronik.errors import InvalidArgument, NotFound, ResourceExhausted
from chronik.records import FailedJob, Schedule, TimeRule
from chronik.schedules import rules
from chronik.schedules.scheduler import Clock, Scheduler, utc_now
from chronik.settings import Settings
from chronik.storage.ports import Database

DEFAULT_GROUP = "DEFAULT"
TENANT_GROUP = "tenant"
MISFIRE_POLICIES = ("fire_once_now", "skip_to_next")
FAILED_JOB_STATES = ("queued", "quit")
MAX_PAGE = 1000


class TenantEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One request of Socotra's tenant-event scheduling."""

    schedule_id: str
    event_type_id: str
    event_time: datetime
    data: dict[str, Any] = msgspec.field(default_factory=dict)


def _text(value: str | None, what: str, *, required: bool = True, limit: int = 200) -> None:
    if value is None or value == "":
        if required:
            raise InvalidArgument(f"{what} is required", field=what)
        return
    if len(value) > limit:
        raise InvalidArgument(f"{what} is longer than {limit} characters", field=what)
    if "\x00" in value:
        raise InvalidArgument(f"{what} holds a NUL character", field=what)


class Schedules:
    def __init__(self, db: Database, settings: Settings, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._store = db.schedules
        self._settings = settings
        self._clock = clock
        self.scheduler: Scheduler | None = None
        """The scheduler of this process, if it runs one: woken by changes made here."""

    def _woken(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake()

    def _checked(self, s: Schedule, now: datetime) -> Schedule:
        for value, what in ((s.name, "name"), (s.group, "group"), (s.event_type, "eventType")):
            _text(value, what)
        _text(s.policy_locator, "policyLocator", required=False)
        _text(s.transaction_locator, "transactionLocator", required=False)
        _text(s.aggregate_type, "aggregateType", required=False)
        if s.misfire not in MISFIRE_POLICIES:
            raise InvalidArgument(
                f"misfire policy {s.misfire!r}: one of {', '.join(MISFIRE_POLICIES)}",
                field="misfire",
            )
        size = len(msgspec.json.encode(s.payload))
        if size > self._settings.max_payload_bytes:
            raise ResourceExhausted(
                f"the payload is {size} bytes, more than {self._settings.max_payload_bytes}"
            )
        rule = rules.validate(s.rule, now)
        return msgspec.structs.replace(
            s,
            rule=rule,
            aggregate_type=s.aggregate_type or ("policy" if s.policy_locator else "schedule"),
            next_fire_at=rules.first(rule, now),
            updated_at=now,
            created_at=s.created_at or now,
        )

    async def create(self, schedule: Schedule) -> Schedule:
        """Store a new schedule; :class:`AlreadyExists` when its (group, name) is taken."""
        stored = self._checked(schedule, self._clock())
        await self._store.create([stored])
        self._woken()
        return await self.get(stored.tenant_id, stored.group, stored.name)

    async def replace(self, schedule: Schedule) -> Schedule:
        """A new definition for an existing schedule: its fire times start over, out of
        ERROR (its failed job stays until a firing succeeds), and a firing in progress under
        the old definition does not commit."""
        current = await self.get(schedule.tenant_id, schedule.group, schedule.name)
        stored = self._checked(
            msgspec.structs.replace(schedule, created_at=current.created_at), self._clock()
        )
        if not await self._store.replace(stored):
            raise _missing(schedule.group, schedule.name)
        self._woken()
        return await self.get(stored.tenant_id, stored.group, stored.name)

    async def get(self, tenant_id: str, group: str, name: str) -> Schedule:
        found = await self._store.get(tenant_id, group, name)
        if found is None:
            raise _missing(group, name)
        return found

    async def find(
        self,
        tenant_id: str,
        *,
        group: str | None = None,
        policy_locator: str | None = None,
        offset: int = 0,
        count: int = 100,
    ) -> list[Schedule]:
        _page(offset, count)
        return await self._store.find(
            tenant_id, group=group, policy_locator=policy_locator, offset=offset, count=count
        )

    async def find_all(
        self, tenant_id: str, *, group: str | None = None, policy_locator: str | None = None
    ) -> list[Schedule]:
        """Every schedule (of ``group``, of the policy), page by page."""
        found: list[Schedule] = []
        while page := await self.find(
            tenant_id,
            group=group,
            policy_locator=policy_locator,
            offset=len(found),
            count=MAX_PAGE,
        ):
            found += page
            if len(page) < MAX_PAGE:
                break
        return found

    async def pause(self, tenant_id: str, group: str, name: str) -> Schedule:
        return await self._set_paused(tenant_id, group, name, True)

    async def resume(self, tenant_id: str, group: str, name: str) -> Schedule:
        """Back from a pause; a fire time missed meanwhile follows the misfire policy."""
        return await self._set_paused(tenant_id, group, name, False)

    async def _set_paused(self, tenant_id: str, group: str, name: str, paused: bool) -> Schedule:
        if not await self._store.set_paused(tenant_id, group, name, paused, self._clock()):
            raise _missing(group, name)
        self._woken()
        return await self.get(tenant_id, group, name)

    async def delete(self, tenant_id: str, group: str, name: str) -> None:
        """Delete a schedule and its failed job."""
        if not await self._store.delete(tenant_id, group, name):
            raise _missing(group, name)

    async def failed_jobs(
        self,
        tenant_id: str,
        *,
        policy_locator: str | None = None,
        group: str | None = None,
        state: str | None = None,
        offset: int = 0,
        count: int = 100,
    ) -> list[FailedJob]:
        if state is not None and state not in FAILED_JOB_STATES:
            raise InvalidArgument(
                f"failed job state {state!r}: one of {', '.join(FAILED_JOB_STATES)}",
                field="failedJobState",
            )
        _page(offset, count)
        return await self._store.failed_jobs(
            tenant_id,
            policy_locator=policy_locator,
            group=group,
            state=state,
            offset=offset,
            count=count,
        )

    async def resume_failed(self, tenant_id: str, group: str, name: str) -> None:
        """Back to NORMAL and due now; the failed job goes when that firing succeeds."""
        if not await self._store.resume_failed(tenant_id, group, name, self._clock()):
            raise NotFound(f"schedule {group}/{name} has no failed job", group=group, name=name)
        self._woken()

    async def delete_failed(self, tenant_id: str, group: str, name: str) -> None:
        """Forget the failed job; the schedule stays as it is (in ERROR after a quit)."""
        if not await self._store.delete_failed(tenant_id, group, name):
            raise NotFound(f"schedule {group}/{name} has no failed job", group=group, name=name)

    async def schedule_tenant_events(
        self, tenant_id: str, requests: Sequence[TenantEvent]
    ) -> list[Schedule]:
        """Socotra's tenant events: each a one-shot schedule in the group ``tenant``; all
        are created or none."""
        if not requests:
            raise InvalidArgument("requests must not be empty", field="requests")
        ids = [r.schedule_id for r in requests]
        if len(set(ids)) != len(ids):
            raise InvalidArgument("a scheduleId repeats in requests", field="scheduleId")
        schedules = [
            Schedule(
                tenant_id=tenant_id,
                name=r.schedule_id,
                group=TENANT_GROUP,
                event_type=r.event_type_id,
                payload=r.data,
                aggregate_type="tenant",
                rule=TimeRule(kind="once", at=r.event_time),
            )
            for r in requests
        ]
        now = self._clock()
        checked = [self._checked(s, now) for s in schedules]
        await self._store.create(checked)
        self._woken()
        return checked

    def state_of(self, schedule: Schedule | None) -> str:
        return "NONE" if schedule is None else schedule.state(self._clock())


def _missing(group: str, name: str) -> NotFound:
    return NotFound(f"schedule {group}/{name} not found", group=group, name=name)


def _page(offset: int, count: int) -> None:
    if offset < 0:
        raise InvalidArgument("offset must not be negative", field="offset")
    if not 1 <= count <= MAX_PAGE:
        raise InvalidArgument(f"count must be 1 to {MAX_PAGE}", field="count")
