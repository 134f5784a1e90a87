"""A tenant's schedules backed up and restored on every backend: a restored tenant behaves
as the original (states, counts, fire times, failed jobs), a second restore writes nothing,
and a record that could not have been created is refused. And no schedule, however it was
stored, fires into Chronik's own aggregate types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from chronik.errors import InvalidArgument
from chronik.events import EventQuery
from chronik.records import FailedJob, NewEvent, Schedule, TimeRule
from chronik.schedules import Scheduler, ScheduleRecord, Schedules, service
from chronik.services import Chronik

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def schedules(chronik: Chronik, clock: Clock) -> Schedules:
    return Schedules(chronik.db, chronik.settings, clock=clock)


def scheduler(chronik: Chronik, clock: Clock, broken: set[str]) -> Scheduler:
    async def hook(schedule: Schedule, event: NewEvent) -> NewEvent:
        if schedule.name in broken:
            raise RuntimeError(f"{schedule.name} is broken")
        return event

    return Scheduler(chronik.db, chronik.settings, owner="node", clock=clock, hooks=[hook])


def schedule(tenant: str, name: str, rule: TimeRule, **fields: Any) -> Schedule:
    return Schedule(tenant_id=tenant, name=name, event_type="reminder.due", rule=rule, **fields)


async def exported(schedules: Schedules, tenant: str) -> list[ScheduleRecord]:
    """The records as the command line writes and reads them: one JSON line each."""
    return [
        msgspec.json.decode(msgspec.json.encode(r), type=ScheduleRecord)
        async for r in schedules.export(tenant)
    ]


async def test_a_restored_tenant_has_its_schedules_as_they_were(
    chronik: Chronik,
    schedules: Schedules,
    clock: Clock,
    tenant: str,
    other_tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "EXPORT_PAGE", 2)  # several pages from four schedules
    cron = TimeRule(kind="cron", cron="30 9 * * MON-FRI", time_zone="Europe/Berlin")
    await schedules.create(schedule(tenant, "standup", cron))
    await schedules.pause(tenant, "DEFAULT", "standup")
    await schedules.create(schedule(tenant, "ping", TimeRule(kind="once", at=T0 + timedelta(1))))
    once = TimeRule(kind="once", at=T0)
    await schedules.create(schedule(tenant, "renewal", once, policy_locator="P-1"))
    await schedules.create(schedule(tenant, "invoice", once, group="billing"))
    broken = {"invoice"}
    node = scheduler(chronik, clock, broken)
    for delay in (0, 10, 20, 40, 80):  # fires "renewal", then fails "invoice" until it quits
        clock.now += timedelta(seconds=delay)
        await node.tick()
    records = await exported(schedules, tenant)

    for record in records:
        assert await schedules.restore(other_tenant, record)
    now = clock.now
    restored = await exported(schedules, other_tenant)
    by_name = {r.schedule.name: r for r in restored}
    states = {n: r.schedule.state(now) for n, r in by_name.items()}
    assert states == {
        "standup": "PAUSED",
        "ping": "NORMAL",
        "renewal": "COMPLETE",
        "invoice": "ERROR",
    }
    for record in records:  # definitions, fire times, counts, failed jobs
        copy = by_name[record.schedule.name]
        assert copy.schedule == msgspec.structs.replace(record.schedule, tenant_id=other_tenant)
        assert copy.failed_job == (
            record.failed_job and msgspec.structs.replace(record.failed_job, tenant_id=other_tenant)
        )
    assert by_name["renewal"].schedule.fired == 1
    [job] = await schedules.failed_jobs(other_tenant)
    assert (job.name, job.state, job.failure_count) == ("invoice", "quit", 5)

    for record in records:  # a second restore changes nothing, even of another state
        changed = msgspec.structs.replace(record.schedule, fired=7, paused=False)
        assert not await schedules.restore(other_tenant, record)
        assert not await schedules.restore(other_tenant, ScheduleRecord(schedule=changed))
    assert await exported(schedules, other_tenant) == restored

    broken.clear()
    await schedules.resume_failed(other_tenant, "billing", "invoice")
    await node.tick()
    page = await chronik.events.search(other_tenant, EventQuery(asc=True))
    assert [e.aggregate_id for e in page.events] == ["billing/invoice"]
    assert await schedules.failed_jobs(other_tenant) == []
    assert (await schedules.get(other_tenant, "billing", "invoice")).state(now) == "COMPLETE"


def job(**fields: Any) -> FailedJob:
    values: dict[str, Any] = {
        "tenant_id": "t",
        "name": "x",
        "group": "DEFAULT",
        "failure_count": 5,
        "state": "quit",
        "error": "boom",
        "created_at": T0,
        "updated_at": T0,
    } | fields
    return FailedJob(**values)


async def test_a_record_that_could_not_be_created_is_refused_and_stores_nothing(
    schedules: Schedules, tenant: str
) -> None:
    once = TimeRule(kind="once", at=T0)
    good = schedule(tenant, "x", once, error=True)
    bad = [
        (
            ScheduleRecord(
                schedule=schedule(tenant, "x", TimeRule(kind="cron", cron="61 * * * *"))
            ),
            "cron",
        ),
        (
            ScheduleRecord(schedule=schedule(tenant, "x", once, aggregate_type="chronik.action")),
            "aggregateType",
        ),
        (ScheduleRecord(schedule=schedule(tenant, "x", once, fired=-1)), "fired"),
        (
            ScheduleRecord(schedule=schedule(tenant, "x", once, next_fire_at=datetime(2026, 1, 5))),
            "nextFireAt",
        ),
        (ScheduleRecord(schedule=good, failed_job=job(state="lost")), "failedJob.state"),
        (ScheduleRecord(schedule=good, failed_job=job(failure_count=-1)), "failedJob.failureCount"),
        (ScheduleRecord(schedule=good, failed_job=job(name="y")), "failedJob.name"),
        (ScheduleRecord(schedule=good, failed_job=job(error="a\x00b")), "failedJob.error"),
    ]
    for record, field in bad:
        with pytest.raises(InvalidArgument) as caught:
            await schedules.restore(tenant, record)
        assert caught.value.details["field"] == field
    assert await schedules.find(tenant) == []
    assert await schedules.failed_jobs(tenant) == []


async def test_a_schedule_cannot_fire_into_chroniks_own_aggregate_types(
    chronik: Chronik, schedules: Schedules, clock: Clock, tenant: str
) -> None:
    once = TimeRule(kind="once", at=T0)
    await schedules.create(schedule(tenant, "mine", once))
    for name, call in (("forged", schedules.create), ("mine", schedules.replace)):
        forged = schedule(tenant, name, once, aggregate_type="chronik.flow")
        with pytest.raises(InvalidArgument, match=r"'chronik\.flow' is reserved") as caught:
            await call(forged)
        assert caught.value.details["field"] == "aggregateType"
    stored = [(s.name, s.aggregate_type) for s in await schedules.find(tenant)]
    assert stored == [("mine", "schedule")]


async def test_a_schedule_stored_with_a_reserved_type_fails_instead_of_firing(
    chronik: Chronik, schedules: Schedules, clock: Clock, tenant: str
) -> None:
    old = schedule(
        tenant,
        "old",
        TimeRule(kind="once", at=T0),
        aggregate_type="chronik.flow",
        next_fire_at=T0,
        created_at=T0,
    )
    await chronik.db.schedules.create([old])  # as an older release could have stored it
    await scheduler(chronik, clock, set()).tick()
    [job] = await schedules.failed_jobs(tenant)
    assert "'chronik.flow' is reserved" in job.error
    assert (await chronik.events.search(tenant, EventQuery(asc=True))).events == []
