"""Schedules on every backend, on a fake clock: fire times of once, interval and cron rules,
failed jobs (queued, quit, resume, delete), misfires after downtime, claims between
schedulers, tenant isolation and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronik.errors import AlreadyExists, InvalidArgument, NotFound
from chronik.events import EventQuery
from chronik.records import Event, NewEvent, Schedule, TimeRule
from chronik.schedules import Scheduler, Schedules, TenantEvent
from chronik.services import Chronik

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Harness:
    """A tenant's schedules, a scheduler, and the events they appended, on one clock."""

    def __init__(self, chronik: Chronik, tenant: str, clock: Clock, **hooks: Any) -> None:
        self.chronik = chronik
        self.tenant = tenant
        self.clock = clock
        self.schedules = Schedules(chronik.db, chronik.settings, clock=clock)
        self.broken: set[str] = set()
        self.scheduler = self.node("node-a")

    def node(self, owner: str) -> Scheduler:
        async def hook(schedule: Schedule, event: NewEvent) -> NewEvent:
            if schedule.name in self.broken:
                raise RuntimeError(f"{schedule.name} is broken")
            return event

        return Scheduler(
            self.chronik.db, self.chronik.settings, owner=owner, clock=self.clock, hooks=[hook]
        )

    async def create(self, name: str, rule: TimeRule, **fields: Any) -> Schedule:
        return await self.schedules.create(
            Schedule(
                tenant_id=self.tenant,
                name=name,
                event_type=fields.pop("event_type", "reminder.due"),
                rule=rule,
                **fields,
            )
        )

    async def tick_at(self, at: datetime) -> int:
        self.clock.now = at
        return await self.scheduler.tick()

    async def events(self) -> list[Event]:
        page = await self.chronik.events.search(self.tenant, EventQuery(asc=True))
        return page.events

    async def get(self, name: str, group: str = "DEFAULT") -> Schedule:
        return await self.schedules.get(self.tenant, group, name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def h(chronik: Chronik, tenant: str, clock: Clock) -> Harness:
    return Harness(chronik, tenant, clock)


async def test_a_once_schedule_fires_at_its_instant_with_its_event(h: Harness) -> None:
    at = T0 + timedelta(minutes=5)
    created = await h.create(
        "renewal",
        TimeRule(kind="once", at=at),
        policy_locator="P-1",
        transaction_locator="T-9",
        payload={"days": 30},
    )
    assert created.next_fire_at == at and created.state(h.clock.now) == "NORMAL"
    assert await h.tick_at(at - timedelta(seconds=1)) == 0
    assert await h.events() == []

    assert await h.tick_at(at) == 1
    [event] = await h.events()
    assert (event.type, event.aggregate_type, event.aggregate_id) == (
        "reminder.due",
        "policy",
        "P-1",
    )
    assert event.payload == {"days": 30}
    assert (event.editor_user_id, event.editor_service) == ("DEFAULT/renewal", "chronik.scheduler")
    fired = await h.get("renewal")
    assert fired.next_fire_at is None and fired.fired == 1
    assert fired.state(h.clock.now) == "COMPLETE"
    assert await h.tick_at(at + timedelta(hours=1)) == 0


async def test_an_interval_schedule_repeats_until_its_limit(h: Harness) -> None:
    await h.create(
        "ping", TimeRule(kind="interval", at=T0, every_seconds=60, repeat_limit=3), group="ops"
    )
    for minute in range(5):
        await h.tick_at(T0 + timedelta(minutes=minute, seconds=1))
    events = await h.events()
    assert len(events) == 3
    assert {e.aggregate_id for e in events} == {"ops/ping"}
    assert len({e.request_id for e in events}) == 3  # each firing its own request
    assert (await h.get("ping", "ops")).state(h.clock.now) == "COMPLETE"


async def test_a_cron_schedule_fires_on_local_time(h: Harness) -> None:
    rule = TimeRule(kind="cron", cron="30 9 * * MON-FRI", time_zone="Europe/Berlin")
    created = await h.create("standup", rule)  # Monday 10:00 in Berlin: today's has passed
    tuesday = datetime(2026, 1, 6, 8, 30, tzinfo=UTC)  # 09:30 in Berlin (UTC+1)
    assert created.next_fire_at == tuesday
    for day in range(4):  # Tuesday to Friday
        await h.tick_at(tuesday + timedelta(days=day))
    assert (await h.get("standup")).next_fire_at == tuesday + timedelta(days=6)  # Monday
    assert len(await h.events()) == 4


async def test_a_failing_firing_is_queued_then_quits_and_resume_fires_it(h: Harness) -> None:
    h.broken.add("invoice")
    await h.create("invoice", TimeRule(kind="once", at=T0), policy_locator="P-2")
    await h.tick_at(T0)
    [job] = await h.schedules.failed_jobs(h.tenant)
    assert (job.name, job.group, job.state, job.failure_count) == (
        "invoice",
        "DEFAULT",
        "queued",
        1,
    )
    assert job.error == "invoice is broken" and job.policy_locator == "P-2"
    retry_at = (await h.get("invoice")).next_fire_at
    assert retry_at == T0 + timedelta(seconds=10)

    at = T0
    for delay in (10, 20, 40, 80):
        at += timedelta(seconds=delay)
        await h.tick_at(at)
    [job] = await h.schedules.failed_jobs(h.tenant)
    assert (job.state, job.failure_count) == ("quit", 5)
    assert (await h.get("invoice")).state(h.clock.now) == "ERROR"
    assert await h.tick_at(at + timedelta(days=1)) == 0  # an ERROR schedule does not fire
    assert await h.events() == []
    assert [j.name for j in await h.schedules.failed_jobs(h.tenant, state="quit")] == ["invoice"]
    assert await h.schedules.failed_jobs(h.tenant, state="queued") == []
    assert await h.schedules.failed_job_counts(h.tenant) == {"queued": 0, "quit": 1}

    h.broken.clear()
    await h.schedules.resume_failed(h.tenant, "DEFAULT", "invoice")
    assert (await h.get("invoice")).state(h.clock.now) == "NORMAL"
    await h.tick_at(h.clock.now)
    assert len(await h.events()) == 1
    assert await h.schedules.failed_jobs(h.tenant) == []
    assert (await h.get("invoice")).state(h.clock.now) == "COMPLETE"


async def test_deleting_a_failed_job_leaves_the_schedule_as_it_is(h: Harness) -> None:
    h.broken.add("x")
    await h.create("x", TimeRule(kind="once", at=T0))
    at = T0
    for delay in (0, 10, 20, 40, 80):
        at += timedelta(seconds=delay)
        await h.tick_at(at)
    await h.schedules.delete_failed(h.tenant, "DEFAULT", "x")
    assert await h.schedules.failed_jobs(h.tenant) == []
    assert (await h.get("x")).state(h.clock.now) == "ERROR"
    with pytest.raises(NotFound):
        await h.schedules.delete_failed(h.tenant, "DEFAULT", "x")
    with pytest.raises(NotFound):
        await h.schedules.resume_failed(h.tenant, "DEFAULT", "x")


@pytest.mark.parametrize(
    ("policy", "events", "missed"), [("fire_once_now", 1, 9), ("skip_to_next", 0, 10)]
)
async def test_misfires_after_downtime_follow_the_policy(
    h: Harness, policy: str, events: int, missed: int
) -> None:
    await h.create("tick", TimeRule(kind="interval", at=T0, every_seconds=60), misfire=policy)
    down_until = T0 + timedelta(minutes=9, seconds=30)  # fire times 0..9 minutes missed
    await h.tick_at(down_until)
    assert len(await h.events()) == events
    stored = await h.get("tick")
    assert stored.missed == missed
    assert stored.next_fire_at == T0 + timedelta(minutes=10)
    assert h.scheduler.stats.missed == missed


async def test_a_late_firing_within_the_threshold_is_no_misfire(h: Harness) -> None:
    await h.create(
        "tick", TimeRule(kind="interval", at=T0, every_seconds=60), misfire="skip_to_next"
    )
    await h.tick_at(T0 + timedelta(seconds=30))
    assert len(await h.events()) == 1
    assert (await h.get("tick")).next_fire_at == T0 + timedelta(minutes=1)


async def test_two_schedulers_fire_each_fire_time_once(h: Harness) -> None:
    for i in range(20):
        await h.create(f"s{i}", TimeRule(kind="once", at=T0))
    other = h.node("node-b")
    h.clock.now = T0
    await h.scheduler.tick(limit=7)
    await other.tick(limit=7)
    await h.scheduler.tick()
    await other.tick()
    events = await h.events()
    assert sorted(e.aggregate_id for e in events) == sorted(f"DEFAULT/s{i}" for i in range(20))


async def test_a_claim_that_runs_out_unfinished_is_a_failed_firing(h: Harness) -> None:
    await h.create("lost", TimeRule(kind="once", at=T0))
    h.clock.now = T0
    dead = await h.chronik.db.schedules.claim("dead-node", T0, T0 + timedelta(seconds=30), 10)
    assert [s.name for s, _, _ in dead] == ["lost"]
    assert (await h.get("lost")).state(T0) == "BLOCKED"
    assert await h.tick_at(T0 + timedelta(seconds=10)) == 0  # the claim still holds

    await h.tick_at(T0 + timedelta(seconds=31))
    [job] = await h.schedules.failed_jobs(h.tenant)
    assert job.state == "queued" and "dead-node did not finish" in job.error
    await h.tick_at(T0 + timedelta(seconds=45))
    assert len(await h.events()) == 1
    assert await h.schedules.failed_jobs(h.tenant) == []


async def test_pause_stops_firing_and_resume_applies_the_misfire_policy(h: Harness) -> None:
    await h.create("tick", TimeRule(kind="interval", at=T0, every_seconds=60))
    paused = await h.schedules.pause(h.tenant, "DEFAULT", "tick")
    assert paused.state(h.clock.now) == "PAUSED"
    await h.tick_at(T0 + timedelta(minutes=5, seconds=1))
    assert await h.events() == []
    await h.schedules.resume(h.tenant, "DEFAULT", "tick")
    await h.tick_at(h.clock.now)
    assert len(await h.events()) == 1  # fire once now
    assert (await h.get("tick")).missed == 5


async def test_replacing_a_schedule_in_error_starts_it_over(h: Harness) -> None:
    h.broken.add("x")
    await h.create("x", TimeRule(kind="once", at=T0))
    at = T0
    for delay in (0, 10, 20, 40, 80):
        at += timedelta(seconds=delay)
        await h.tick_at(at)
    assert (await h.get("x")).state(h.clock.now) == "ERROR"
    h.broken.clear()
    later = h.clock.now + timedelta(minutes=1)
    replaced = await h.schedules.replace(
        Schedule(
            tenant_id=h.tenant, name="x", event_type="fixed", rule=TimeRule(kind="once", at=later)
        )
    )
    assert replaced.state(h.clock.now) == "NORMAL" and replaced.next_fire_at == later
    await h.tick_at(later)
    [event] = await h.events()
    assert event.type == "fixed"
    assert await h.schedules.failed_jobs(h.tenant) == []


async def test_replace_and_delete(h: Harness) -> None:
    created = await h.create("r", TimeRule(kind="once", at=T0 + timedelta(hours=1)))
    replaced = await h.schedules.replace(
        Schedule(
            tenant_id=h.tenant,
            name="r",
            event_type="other.type",
            rule=TimeRule(kind="once", at=T0 + timedelta(hours=2)),
        )
    )
    assert replaced.event_type == "other.type"
    assert replaced.next_fire_at == T0 + timedelta(hours=2)
    assert replaced.created_at == created.created_at
    await h.schedules.delete(h.tenant, "DEFAULT", "r")
    with pytest.raises(NotFound):
        await h.get("r")
    assert h.schedules.state_of(None) == "NONE"
    with pytest.raises(NotFound):
        await h.schedules.delete(h.tenant, "DEFAULT", "r")


async def test_tenant_events_are_one_shot_schedules_in_the_tenant_group(h: Harness) -> None:
    at = T0 + timedelta(minutes=1)
    created = await h.schedules.schedule_tenant_events(
        h.tenant,
        [
            TenantEvent(
                schedule_id="month-end", event_type_id="billing.close", event_time=at, data={"m": 1}
            )
        ],
    )
    assert [(s.group, s.name, s.rule.kind) for s in created] == [("tenant", "month-end", "once")]
    await h.tick_at(at)
    [event] = await h.events()
    assert (event.type, event.payload, event.aggregate_type) == (
        "billing.close",
        {"m": 1},
        "tenant",
    )


async def test_schedules_of_one_tenant_are_invisible_to_another(
    h: Harness, chronik: Chronik, other_tenant: str
) -> None:
    h.broken.add("mine")
    await h.create("mine", TimeRule(kind="once", at=T0), policy_locator="P-1")
    await h.tick_at(T0)
    others = Schedules(chronik.db, chronik.settings, clock=h.clock)
    assert await others.find(other_tenant) == []
    assert await others.find(other_tenant, policy_locator="P-1") == []
    assert await others.failed_jobs(other_tenant) == []
    for call in (
        others.get(other_tenant, "DEFAULT", "mine"),
        others.pause(other_tenant, "DEFAULT", "mine"),
        others.delete(other_tenant, "DEFAULT", "mine"),
        others.resume_failed(other_tenant, "DEFAULT", "mine"),
        others.delete_failed(other_tenant, "DEFAULT", "mine"),
    ):
        with pytest.raises(NotFound):
            await call
    assert len(await h.schedules.failed_jobs(h.tenant)) == 1


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (TimeRule(kind="cron", cron="61 * * * *"), "cron"),
        (TimeRule(kind="cron", cron="not cron"), "cron"),
        (TimeRule(kind="interval", every_seconds=0), "everySeconds"),
        (TimeRule(kind="interval", every_seconds=-5), "everySeconds"),
        (TimeRule(kind="once"), "at"),
        (TimeRule(kind="once", at=datetime(9999, 6, 1, tzinfo=UTC)), "at"),
        (TimeRule(kind="cron", cron="* * * * *", time_zone="Mars/Olympus"), "timeZone"),
        (TimeRule(kind="weekly"), "kind"),
        (TimeRule(kind="interval", every_seconds=5, repeat_limit=0), "repeatLimit"),
    ],
)
async def test_rules_that_cannot_work_are_refused(h: Harness, rule: TimeRule, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await h.create("bad", rule)
    assert caught.value.details["field"] == field
    assert await h.schedules.find(h.tenant) == []


async def test_other_bad_input_is_refused_and_changes_nothing(h: Harness) -> None:
    await h.create("taken", TimeRule(kind="once", at=T0))
    with pytest.raises(AlreadyExists):
        await h.create("taken", TimeRule(kind="once", at=T0))
    for fields in ({"misfire": "whenever"}, {"group": "g" * 201}, {"event_type": ""}):
        with pytest.raises(InvalidArgument):
            await h.create("other", TimeRule(kind="once", at=T0), **fields)
    with pytest.raises(InvalidArgument):
        await h.schedules.failed_jobs(h.tenant, state="lost")
    for offset, count in ((-1, 10), (0, 0), (0, 1001)):
        with pytest.raises(InvalidArgument):
            await h.schedules.find(h.tenant, offset=offset, count=count)
    with pytest.raises(InvalidArgument):
        await h.schedules.schedule_tenant_events(h.tenant, [])
    assert [s.name for s in await h.schedules.find(h.tenant)] == ["taken"]


async def test_a_far_past_fire_time_is_a_misfire_on_first_claim(h: Harness) -> None:
    long_ago = T0 - timedelta(days=400)
    await h.create("old", TimeRule(kind="interval", at=long_ago, every_seconds=3600))
    await h.tick_at(T0)
    assert len(await h.events()) == 1
    stored = await h.get("old")
    assert stored.next_fire_at is not None and stored.next_fire_at > T0
    assert stored.missed == 400 * 24
