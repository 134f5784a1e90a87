"""What users do with schedules: create, read, list, replace, pause, resume and delete them;
list, resume and delete their failed jobs; Socotra's tenant events, one-shot schedules in
the group ``tenant``; and a tenant's backup (export and restore with their state). Every
call is scoped to one tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from chronik.errors import InvalidArgument, NotFound, ResourceExhausted
from chronik.records import RESERVED_PREFIX, FailedJob, Schedule, TimeRule, reserved
from chronik.schedules import rules
from chronik.schedules.scheduler import Clock, Scheduler, utc_now
from chronik.settings import Settings
from chronik.storage.ports import Database

DEFAULT_GROUP = "DEFAULT"
TENANT_GROUP = "tenant"
MISFIRE_POLICIES = ("fire_once_now", "skip_to_next")
FAILED_JOB_STATES = ("queued", "quit")
MAX_PAGE = 1000
EXPORT_PAGE = 1000
MAX_COUNT = 2**31 - 1
"""The largest count the tables hold (fired, missed, failures)."""
MAX_ERROR = 2000
"""The longest failed-job error the scheduler writes (:func:`chronik.retries.error_text`)."""


class ScheduleRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule in a backup: its definition and state, and its failed job. It carries no
    claim (``owner``, ``lease_until``): a lease of the source database means nothing in
    another."""

    schedule: Schedule
    failed_job: FailedJob | None = None


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
        if reserved(s.aggregate_type):
            raise InvalidArgument(
                f"aggregateType {s.aggregate_type!r} is reserved: aggregate types starting "
                f"with {RESERVED_PREFIX!r} are Chronik's own records and no schedule fires "
                "into them",
                field="aggregateType",
            )
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
        if s.rule.at is not None and s.rule.at.tzinfo is None:
            raise InvalidArgument("the fire time has no time zone offset", field="at")
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

    async def failed_job_counts(self, tenant_id: str) -> dict[str, int]:
        """How many failed jobs are in each state, every state named (for an overview)."""
        counts = await self._store.failed_job_counts(tenant_id)
        return {state: counts.get(state, 0) for state in FAILED_JOB_STATES}

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

    async def export(self, tenant_id: str) -> AsyncIterator[ScheduleRecord]:
        """Every schedule of a tenant with its state and failed job, ordered by (group,
        name), read page by page: constant memory however many there are."""
        after = ("", "")  # every group and name is longer
        while page := await self._store.export(tenant_id, after, EXPORT_PAGE):
            for s, job in page:
                unclaimed = msgspec.structs.replace(s, owner=None, lease_until=None)
                yield ScheduleRecord(schedule=unclaimed, failed_job=job)
            if len(page) < EXPORT_PAGE:
                break
            after = (page[-1][0].group, page[-1][0].name)

    async def restore(self, tenant_id: str, record: ScheduleRecord) -> bool:
        """Store an exported schedule in ``tenant_id`` as it was: checked as :meth:`create`
        checks a definition, but with its fire time, counts, pause and error kept (a
        once-schedule that fired stays COMPLETE) and its failed job with it. False, and
        nothing changed, when its (group, name) exists: a second restore writes nothing."""
        now = self._clock()
        given = msgspec.structs.replace(record.schedule, tenant_id=tenant_id)
        checked = self._checked(given, now)
        _moment(given.next_fire_at, "nextFireAt", required=False)
        _moment(given.created_at, "createdAt", required=False)
        _moment(given.updated_at, "updatedAt", required=False)
        _count(given.fired, "fired")
        _count(given.missed, "missed")
        stored = msgspec.structs.replace(
            checked,
            next_fire_at=given.next_fire_at,
            fired=given.fired,
            missed=given.missed,
            paused=given.paused,
            error=given.error,
            owner=None,
            lease_until=None,
            created_at=given.created_at or now,
            updated_at=given.updated_at or now,
        )
        job = record.failed_job
        if job is not None:
            job = _checked_job(job, stored)
        if not await self._store.restore(stored, job):
            return False
        self._woken()
        return True

    def state_of(self, schedule: Schedule | None) -> str:
        return "NONE" if schedule is None else schedule.state(self._clock())


def _missing(group: str, name: str) -> NotFound:
    return NotFound(f"schedule {group}/{name} not found", group=group, name=name)


def _moment(value: datetime | None, what: str, *, required: bool = True) -> None:
    if value is None:
        if required:
            raise InvalidArgument(f"{what} is required", field=what)
        return
    if value.tzinfo is None:
        raise InvalidArgument(f"{what} has no time zone offset", field=what)
    if not datetime(1970, 1, 1, tzinfo=UTC) <= value < rules.LATEST:
        raise InvalidArgument(f"{what} must lie between 1970 and 9999", field=what)


def _count(value: int, what: str) -> None:
    if not 0 <= value <= MAX_COUNT:
        raise InvalidArgument(f"{what} must be 0 to {MAX_COUNT}", field=what)


def _checked_job(job: FailedJob, s: Schedule) -> FailedJob:
    """A restored failed job: valid, and the job of ``s``."""
    if (job.group, job.name) != (s.group, s.name):
        raise InvalidArgument(
            f"failedJob is of {job.group}/{job.name}, not of schedule {s.group}/{s.name}",
            field="failedJob.name",
        )
    if job.state not in FAILED_JOB_STATES:
        raise InvalidArgument(
            f"failed job state {job.state!r}: one of {', '.join(FAILED_JOB_STATES)}",
            field="failedJob.state",
        )
    _count(job.failure_count, "failedJob.failureCount")
    _text(job.error, "failedJob.error", required=False, limit=MAX_ERROR)
    _moment(job.created_at, "failedJob.createdAt")
    _moment(job.updated_at, "failedJob.updatedAt")
    return msgspec.structs.replace(job, tenant_id=s.tenant_id, policy_locator=s.policy_locator)


def _page(offset: int, count: int) -> None:
    if offset < 0:
        raise InvalidArgument("offset must not be negative", field="offset")
    if not 1 <= count <= MAX_PAGE:
        raise InvalidArgument(f"count must be 1 to {MAX_PAGE}", field="count")
