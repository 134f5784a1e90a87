"""Views: exactly-once progress, failed events (retry, skip, stop, remove), reset, pause,
leases between runners, tenant isolation; on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronik.errors import NotFound, Unavailable
from chronik.records import Event, NewEvent, ViewCommit
from chronik.services import Chronik
from chronik.views import Backoff, Registry, Rows, Step, View, ViewRunner, ViewStatus


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Poison(Exception):
    error_id = "VIEW-POISON"


def counting_view(poisoned: set[int] | None = None, **options: object) -> View:
    """Counts ``user.*`` events per aggregate; raises on the sequences in ``poisoned``."""
    bad = poisoned if poisoned is not None else set()

    async def handle(event: Event, rows: Rows) -> None:
        key = f"count:{event.aggregate_id}"
        rows.put(key, await rows.get(key, 0) + 1)
        rows.put("seen", [*await rows.get("seen", []), event.sequence])
        if event.sequence in bad:
            raise Poison(f"cannot handle {event.sequence}")

    defaults: dict[str, object] = {
        "name": "user_counts",
        "database": "tests",
        "event_types": ("user.added", "user.renamed"),
        "backoff": Backoff(first=10, factor=2, longest=60),
        "batch": 3,
    }
    return View(handler=handle, **{**defaults, **options})  # type: ignore[arg-type]


def runner_for(chronik: Chronik, view: View, clock: Clock, owner: str = "node-a") -> ViewRunner:
    registry = Registry()
    registry.add(view)
    return ViewRunner(chronik.db, registry, owner=owner, clock=clock, lease_seconds=30)


async def append_users(
    chronik: Chronik, tenant: str, n: int, type: str = "user.added"
) -> list[int]:
    stored = await chronik.events.append(
        tenant,
        [NewEvent(aggregate_type="user", aggregate_id=f"u{i % 2}", type=type) for i in range(n)],
    )
    return [e.sequence for e in stored]


async def seen(chronik: Chronik, tenant: str, view: str = "user_counts") -> list[int]:
    rows = Rows(chronik.db.views, view, tenant)
    found: list[int] = await rows.get("seen", [])
    return found


async def test_a_view_sees_each_matching_event_once_and_keeps_its_position(
    chronik: Chronik, tenant: str
) -> None:
    clock = Clock()
    view = counting_view()
    runner = runner_for(chronik, view, clock)
    users = await append_users(chronik, tenant, 5)
    await chronik.events.append(
        tenant, [NewEvent(aggregate_type="x", aggregate_id="1", type="other")]
    )
    users += await append_users(chronik, tenant, 2, "user.renamed")

    assert await runner.catch_up(view, tenant) is Step.IDLE
    assert await seen(chronik, tenant) == users
    rows = Rows(chronik.db.views, "user_counts", tenant)
    assert await rows.get("count:u0") + await rows.get("count:u1") == 7
    state = await chronik.db.views.state("user_counts", tenant)
    assert state is not None
    assert state.position == await chronik.events.head(tenant)
    assert state.event_at is not None and state.last_run == clock.now

    # A new runner (a restart) continues where the stored position is, not from 0.
    await runner.release()
    more = await append_users(chronik, tenant, 2)
    await runner_for(chronik, view, clock, owner="node-b-after-restart").catch_up(view, tenant)
    assert await seen(chronik, tenant) == users + more


async def test_a_failing_event_is_retried_with_backoff_then_skipped(
    chronik: Chronik, tenant: str
) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 5)
    poison = sequences[2]
    view = counting_view({poison}, max_failures=3)
    runner = runner_for(chronik, view, clock)

    assert await runner.catch_up(view, tenant) is Step.WAITING
    assert await seen(chronik, tenant) == sequences[:2]  # those before it committed
    [failed] = await chronik.views.failed(tenant)
    assert (failed.view, failed.database, failed.sequence) == ("user_counts", "tests", poison)
    assert failed.failure_count == 1
    assert failed.error == f"ID=VIEW-POISON Message=cannot handle {poison}"
    assert failed.retry_at == clock.now + timedelta(seconds=10)

    clock.advance(9)  # the backoff has not passed: nothing happens
    assert await runner.catch_up(view, tenant) is Step.WAITING
    assert (await chronik.views.failed(tenant))[0].failure_count == 1

    clock.advance(1)
    assert await runner.catch_up(view, tenant) is Step.WAITING
    [failed] = await chronik.views.failed(tenant)
    assert failed.failure_count == 2
    assert failed.retry_at == clock.now + timedelta(seconds=20)

    clock.advance(20)
    assert await runner.catch_up(view, tenant) is Step.IDLE  # third failure: skipped
    [failed] = await chronik.views.failed(tenant)
    assert failed.failure_count == 3 and failed.retry_at is None
    assert await seen(chronik, tenant) == sequences[:2] + sequences[3:]


async def test_failure_counts_continue_across_restarts(chronik: Chronik, tenant: str) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 2)
    view = counting_view({sequences[1]}, max_failures=5)
    await runner_for(chronik, view, clock, owner="first").catch_up(view, tenant)
    clock.advance(60)  # past the first lease and the backoff
    await runner_for(chronik, view, clock, owner="second").catch_up(view, tenant)
    [failed] = await chronik.views.failed(tenant)
    assert failed.failure_count == 2


async def test_a_stopping_view_waits_until_the_event_is_removed(
    chronik: Chronik, tenant: str
) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 4)
    poison = sequences[1]
    view = counting_view({poison}, max_failures=1, on_exhausted="stop")
    runner = runner_for(chronik, view, clock)
    chronik.views.registry.add(view)

    assert await runner.catch_up(view, tenant) is Step.WAITING
    clock.advance(3600)
    assert await runner.catch_up(view, tenant) is Step.WAITING  # no backoff ends a stop
    assert await seen(chronik, tenant) == sequences[:1]

    await chronik.views.remove_failed(tenant, "user_counts", poison)
    assert await runner.catch_up(view, tenant) is Step.IDLE
    assert await seen(chronik, tenant) == [sequences[0], *sequences[2:]]
    assert await chronik.views.failed(tenant) == []


async def test_retry_now_succeeds_once_the_cause_is_fixed(chronik: Chronik, tenant: str) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 3)
    poisoned = {sequences[1]}
    view = counting_view(poisoned, max_failures=2, on_exhausted="stop")
    runner = runner_for(chronik, view, clock)
    await runner.catch_up(view, tenant)
    clock.advance(10)
    assert await runner.catch_up(view, tenant) is Step.WAITING
    assert (await chronik.views.failed(tenant))[0].failure_count == 2

    poisoned.clear()  # the operator fixed the cause
    assert await chronik.views.retry(tenant, "user_counts", sequences[1]) == 1
    assert await runner.catch_up(view, tenant) is Step.IDLE
    assert await seen(chronik, tenant) == sequences
    assert await chronik.views.failed(tenant) == []


async def test_retrying_a_skipped_event_runs_it_again_out_of_order(
    chronik: Chronik, tenant: str
) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 3)
    poisoned = {sequences[0]}
    view = counting_view(poisoned, max_failures=1)
    runner = runner_for(chronik, view, clock)
    await runner.catch_up(view, tenant)
    assert await seen(chronik, tenant) == sequences[1:]

    await chronik.views.retry(tenant, "user_counts")  # still broken: counted, stays
    await runner.catch_up(view, tenant)
    [failed] = await chronik.views.failed(tenant)
    assert failed.failure_count == 2 and failed.retry_at is None

    poisoned.clear()
    await chronik.views.retry(tenant, "user_counts")
    await runner.catch_up(view, tenant)
    assert await seen(chronik, tenant) == [*sequences[1:], sequences[0]]
    assert await chronik.views.failed(tenant) == []


async def test_a_failing_handler_leaves_no_writes_behind(chronik: Chronik, tenant: str) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 3)
    view = counting_view({sequences[2]}, max_failures=1)
    await runner_for(chronik, view, clock).catch_up(view, tenant)
    rows = Rows(chronik.db.views, "user_counts", tenant)
    # u0 got events 1 and 3, but the count of event 3 was written by a handler that raised.
    assert await rows.get("count:u0") == 1
    assert await rows.get("count:u1") == 1


async def test_reset_rebuilds_from_zero_and_refuses_the_stale_runner(
    chronik: Chronik, tenant: str
) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 4)
    view = counting_view({sequences[3]}, max_failures=1)
    chronik.views.registry.add(view)
    runner = runner_for(chronik, view, clock)
    await runner.catch_up(view, tenant)
    assert len(await chronik.views.failed(tenant)) == 1

    await chronik.views.reset(tenant, "user_counts")
    state = await chronik.db.views.state("user_counts", tenant)
    assert state is not None and state.position == 0 and state.generation == 1
    assert await chronik.views.failed(tenant) == []
    assert await seen(chronik, tenant) == []

    await runner.catch_up(view, tenant)  # the runner notices and rebuilds
    assert await seen(chronik, tenant) == sequences[:3]

    with pytest.raises(NotFound):
        await chronik.views.reset(tenant, "no_such_view")


async def test_a_commit_after_a_reset_is_refused(chronik: Chronik, tenant: str) -> None:
    """A runner in the middle of a batch when the reset lands writes nothing of it."""
    clock = Clock()
    await append_users(chronik, tenant, 2)
    resets: list[int] = []

    async def handle(event: Event, rows: Rows) -> None:
        rows.put("last", event.sequence)
        if not resets:
            resets.append(1)
            await chronik.views.reset(tenant, "resettable")

    view = View(name="resettable", handler=handle)
    chronik.views.registry.add(view)
    runner = runner_for(chronik, view, clock)
    assert await runner.step(view, tenant) is Step.LOST
    assert await Rows(chronik.db.views, "resettable", tenant).get("last") is None
    assert await runner.catch_up(view, tenant) is Step.IDLE
    assert await Rows(chronik.db.views, "resettable", tenant).get("last") == 2


async def status_of(chronik: Chronik, tenant: str, view: str) -> ViewStatus:
    [status] = [s for s in await chronik.views.statuses(tenant) if s.state.view == view]
    return status


async def test_a_paused_view_does_not_move_until_resumed(chronik: Chronik, tenant: str) -> None:
    clock = Clock()
    view = counting_view()
    chronik.views.registry.add(view)
    runner = runner_for(chronik, view, clock)
    await chronik.views.pause(tenant, "user_counts")
    sequences = await append_users(chronik, tenant, 2)
    assert await runner.catch_up(view, tenant) is Step.PAUSED
    assert await seen(chronik, tenant) == []
    status = await status_of(chronik, tenant, "user_counts")
    assert status.state.paused and status.lag == sequences[-1]

    await chronik.views.resume(tenant, "user_counts")
    assert await runner.catch_up(view, tenant) is Step.IDLE
    assert await seen(chronik, tenant) == sequences


async def test_operators_act_on_a_view_another_process_runs(chronik: Chronik, tenant: str) -> None:
    """This process never registered ``user_counts``: its stored state makes it known."""
    clock = Clock()
    view = counting_view()
    runner = runner_for(chronik, view, clock)  # another process's registry
    first = await append_users(chronik, tenant, 2)
    await runner.catch_up(view, tenant)

    await chronik.views.pause(tenant, "user_counts")
    more = await append_users(chronik, tenant, 1)
    assert await runner.catch_up(view, tenant) is Step.PAUSED
    assert (await status_of(chronik, tenant, "user_counts")).activity == "paused"

    await chronik.views.resume(tenant, "user_counts")
    assert await runner.catch_up(view, tenant) is Step.IDLE
    assert await seen(chronik, tenant) == first + more

    await chronik.views.reset(tenant, "user_counts")
    state = await chronik.db.views.state("user_counts", tenant)
    assert state is not None and state.position == 0 and state.database == "tests"
    assert await seen(chronik, tenant) == []


async def test_operators_cannot_act_on_a_view_only_another_tenant_knows(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    view = counting_view()
    await append_users(chronik, other_tenant, 1)
    await runner_for(chronik, view, Clock()).catch_up(view, other_tenant)

    for act in (chronik.views.pause, chronik.views.resume, chronik.views.reset):
        with pytest.raises(NotFound, match="view 'user_counts' not found"):
            await act(tenant, "user_counts")
    assert await chronik.db.views.state("user_counts", tenant) is None


async def test_one_runner_at_a_time_holds_a_view_until_its_lease_runs_out(
    chronik: Chronik, tenant: str
) -> None:
    clock = Clock()
    view = counting_view()
    a = runner_for(chronik, view, clock, owner="node-a")
    b = runner_for(chronik, view, clock, owner="node-b")
    first = await append_users(chronik, tenant, 2)
    assert await a.catch_up(view, tenant) is Step.IDLE
    second = await append_users(chronik, tenant, 2)
    assert await b.step(view, tenant) is Step.ELSEWHERE
    assert await seen(chronik, tenant) == first

    clock.advance(31)  # node-a stopped renewing
    assert await b.catch_up(view, tenant) is Step.IDLE
    assert await seen(chronik, tenant) == first + second
    assert await a.step(view, tenant) is Step.ELSEWHERE  # and a does not write over it


async def test_views_and_failed_events_of_one_tenant_are_invisible_to_another(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 2)
    view = counting_view({sequences[0]}, max_failures=1)
    chronik.views.registry.add(view)
    await runner_for(chronik, view, clock).catch_up(view, tenant)
    assert len(await chronik.views.failed(tenant)) == 1

    assert await chronik.views.failed(other_tenant) == []
    status = await status_of(chronik, other_tenant, "user_counts")
    assert status.state.position == 0 and status.failed == 0
    with pytest.raises(NotFound):
        await chronik.views.remove_failed(other_tenant, "user_counts", sequences[0])
    message = f"view 'user_counts' has no failed event at sequence {sequences[0]}"
    with pytest.raises(NotFound, match=f"^{message}$"):
        await chronik.views.retry(other_tenant, "user_counts", sequences[0])
    with pytest.raises(NotFound, match=r"^view 'user_counts' has no failed event$"):
        await chronik.views.retry(other_tenant, "user_counts")
    assert len(await chronik.views.failed(tenant)) == 1


async def test_failed_events_page_by_view_and_sequence(chronik: Chronik, tenant: str) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 5)
    for name in ("a_view", "b_view"):
        view = counting_view(set(sequences), name=name, max_failures=1)
        await runner_for(chronik, view, clock).catch_up(view, tenant)
    everything = await chronik.views.failed(tenant)
    assert [(f.view, f.sequence) for f in everything] == [
        (v, s) for v in ("a_view", "b_view") for s in sequences
    ]
    pages = []
    after = None
    while page := await chronik.views.failed(tenant, after=after, limit=3):
        pages.append(page)
        after = (page[-1].view, page[-1].sequence)
    assert [f for p in pages for f in p] == everything
    assert len(await chronik.views.failed(tenant, view="b_view")) == 5
    assert await chronik.views.failed(tenant, min_failures=2) == []


async def test_a_failed_commit_forgets_the_batch_so_nothing_is_counted_twice(
    chronik: Chronik, tenant: str
) -> None:
    clock = Clock()
    sequences = await append_users(chronik, tenant, 4)
    view = counting_view()
    runner = runner_for(chronik, view, clock)
    store = chronik.db.views
    commit = store.commit

    async def unavailable_once(batch: ViewCommit) -> bool:
        store.commit = commit  # type: ignore[method-assign]
        raise Unavailable("the database went away")

    store.commit = unavailable_once  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        await runner.step(view, tenant)
    assert await runner.catch_up(view, tenant) is Step.IDLE
    assert await seen(chronik, tenant) == sequences
    rows = Rows(chronik.db.views, "user_counts", tenant)
    assert await rows.get("count:u0") + await rows.get("count:u1") == 4


async def test_a_view_that_skips_a_tenant_moves_past_its_events_unread(
    chronik: Chronik, tenant: str
) -> None:
    skipping = True

    async def skips(tenant_id: str) -> bool:
        return skipping

    view = counting_view(skips=skips)
    runner = runner_for(chronik, view, Clock())
    passed = await append_users(chronik, tenant, 3)
    await runner.catch_up(view, tenant)
    assert await seen(chronik, tenant) == []
    assert (await status_of(chronik, tenant, "user_counts")).state.position == passed[-1]

    skipping = False
    handled = await append_users(chronik, tenant, 2)
    await runner.catch_up(view, tenant)
    assert await seen(chronik, tenant) == handled
