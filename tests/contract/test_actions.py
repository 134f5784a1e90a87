"""Actions and flows on every backend: the action list, names, search, and what each
trigger does to appends, views and firings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from chronik.actions import ActionQuery, NameQuery
from chronik.actions.search import TEXT_METHODS, TextMethod
from chronik.errors import (
    AlreadyExists,
    ChronikError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from chronik.events import EventQuery
from chronik.records import NewEvent, Schedule, TimeRule
from chronik.schedules import Scheduler
from chronik.services import Chronik
from chronik.settings import Settings

ORG = "org-a"
EVENTS = "FLOW_TYPE_EVENTS"
PRE = "TRIGGER_TYPE_PRE_APPEND"
POST = "TRIGGER_TYPE_POST_APPEND"

REJECT_EMPTY = """
function check(ctx, api) {
  if (!ctx.event.payload.email) api.reject("an email is required");
}
"""
ENRICH = """
function enrich(ctx, api) {
  log.info("enriching " + ctx.event.type);
  api.setField("enriched", true);
  api.setField("seenType", ctx.event.type);
}
"""
THROW = "function broken(ctx, api) { throw new Error('out of order') }"


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Chronik]:
    """A Chronik that runs its views (the action list, the post-append flow)."""
    opened = await Chronik.open(settings)
    opened.start_views()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def acme(live: Chronik) -> str:
    return (await live.tenants.create("acme")).id


def user_added(payload: dict[str, object], org: str = ORG) -> NewEvent:
    return NewEvent(
        aggregate_type="user",
        aggregate_id="u-1",
        type="user.added",
        payload=payload,
        resource_owner=org,
    )


async def bind(chronik: Chronik, tenant: str, trigger: str, *scripts: tuple[str, str]) -> None:
    ids = []
    for name, script in scripts:
        ids.append((await chronik.actions.create(tenant, ORG, name=name, script=script)).id)
    await chronik.actions.set_trigger(tenant, ORG, EVENTS, trigger, ids)


# -- the action list -----------------------------------------------------------------------


async def test_a_created_action_is_listed_with_the_lists_position(live: Chronik, acme: str) -> None:
    created = await live.actions.create(acme, ORG, name="check", script=REJECT_EMPTY, timeout=2)
    found = await live.actions.search(acme, ORG, ActionQuery())
    assert [a.id for a in found.actions] == [created.id]
    assert found.total == 1
    assert found.processed_sequence >= created.sequence
    listed = found.actions[0]
    assert (listed.name, listed.timeout, listed.state) == ("check", 2.0, "ACTIVE")


async def test_a_timeout_of_zero_reads_back_as_twenty_seconds(live: Chronik, acme: str) -> None:
    created = await live.actions.create(acme, ORG, name="check", script=REJECT_EMPTY, timeout=0)
    assert (await live.actions.get(acme, ORG, created.id)).timeout == 20.0


async def test_a_name_is_unique_in_its_organisation_only(live: Chronik, acme: str) -> None:
    await live.actions.create(acme, ORG, name="check", script=REJECT_EMPTY)
    with pytest.raises(AlreadyExists):
        await live.actions.create(acme, ORG, name="check", script=ENRICH)
    await live.actions.create(acme, "org-b", name="check", script=ENRICH)


async def test_two_creates_of_one_name_at_once_make_one_action(live: Chronik, acme: str) -> None:
    outcomes = await asyncio.gather(
        *(live.actions.create(acme, ORG, name="same", script=ENRICH) for _ in range(4)),
        return_exceptions=True,
    )
    made = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(made) == 1
    assert all(isinstance(o, ChronikError) for o in outcomes if o not in made)
    assert (await live.actions.search(acme, ORG, ActionQuery())).total == 1


async def test_deleting_an_action_frees_its_name(live: Chronik, acme: str) -> None:
    first = await live.actions.create(acme, ORG, name="check", script=REJECT_EMPTY)
    await live.actions.delete(acme, ORG, first.id)
    second = await live.actions.create(acme, ORG, name="check", script=ENRICH)
    assert [a.id for a in (await live.actions.search(acme, ORG, ActionQuery())).actions] == [
        second.id
    ]
    with pytest.raises(NotFound):
        await live.actions.get(acme, ORG, first.id)


async def test_renaming_frees_the_old_name_and_takes_the_new(live: Chronik, acme: str) -> None:
    action = await live.actions.create(acme, ORG, name="old", script=ENRICH)
    await live.actions.create(acme, ORG, name="taken", script=ENRICH)
    with pytest.raises(AlreadyExists):
        await live.actions.update(acme, ORG, action.id, name="taken", script=ENRICH)
    renamed = await live.actions.update(acme, ORG, action.id, name="new", script=ENRICH, timeout=5)
    assert (renamed.name, renamed.timeout) == ("new", 5.0)
    await live.actions.create(acme, ORG, name="old", script=ENRICH)


async def test_deactivating_twice_is_refused(live: Chronik, acme: str) -> None:
    action = await live.actions.create(acme, ORG, name="check", script=ENRICH)
    assert (await live.actions.deactivate(acme, ORG, action.id)).state == "INACTIVE"
    with pytest.raises(FailedPrecondition):
        await live.actions.deactivate(acme, ORG, action.id)
    assert (await live.actions.reactivate(acme, ORG, action.id)).state == "ACTIVE"
    assert (await live.actions.get(acme, ORG, action.id)).state == "ACTIVE"


@pytest.mark.parametrize(
    ("name", "script", "seconds"),
    [
        ("", ENRICH, 1),
        ("x" * 201, ENRICH, 1),
        ("check", "", 1),
        ("check", "x" * 40_001, 1),
        ("check", ENRICH, 21),
        ("check", ENRICH, -1),
        ("check", "function check( {\n}", 1),
    ],
    ids=["no name", "long name", "no script", "big script", "21s", "negative", "syntax"],
)
async def test_an_invalid_action_is_refused_and_nothing_is_stored(
    live: Chronik, acme: str, name: str, script: str, seconds: float
) -> None:
    with pytest.raises(InvalidArgument):
        await live.actions.create(acme, ORG, name=name, script=script, timeout=seconds)
    assert (await live.actions.search(acme, ORG, ActionQuery())).total == 0


async def test_a_syntax_error_is_reported_with_line_and_column(live: Chronik, acme: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await live.actions.create(acme, ORG, name="check", script="let a = 1;\nlet b = ;\n")
    assert refused.value.message.endswith("(line 2, column 9)")


async def test_another_tenant_does_not_see_an_action(live: Chronik, acme: str) -> None:
    globex = (await live.tenants.create("globex")).id
    action = await live.actions.create(acme, ORG, name="check", script=ENRICH)
    with pytest.raises(NotFound):
        await live.actions.get(globex, ORG, action.id)
    with pytest.raises(NotFound):
        await live.actions.delete(globex, ORG, action.id)
    assert (await live.actions.search(globex, ORG, ActionQuery())).total == 0


# -- search ---------------------------------------------------------------------------------

NAMES = ["Alpha one", "alpha two", "beta_%", "Gamma one"]
EXPECTED: dict[TextMethod, tuple[str, set[str]]] = {
    "EQUALS": ("alpha two", {"alpha two"}),
    "EQUALS_IGNORE_CASE": ("ALPHA TWO", {"alpha two"}),
    "STARTS_WITH": ("alpha", {"alpha two"}),
    "STARTS_WITH_IGNORE_CASE": ("alpha", {"Alpha one", "alpha two"}),
    "CONTAINS": ("_%", {"beta_%"}),
    "CONTAINS_IGNORE_CASE": ("ONE", {"Alpha one", "Gamma one"}),
    "ENDS_WITH": ("one", {"Alpha one", "Gamma one"}),
    "ENDS_WITH_IGNORE_CASE": ("TWO", {"alpha two"}),
}


@pytest.fixture
async def named(live: Chronik, acme: str) -> str:
    for name in NAMES:
        await live.actions.create(acme, ORG, name=name, script=ENRICH)
    return acme


@pytest.mark.parametrize("method", TEXT_METHODS)
async def test_every_text_method_finds_its_names(
    live: Chronik, named: str, method: TextMethod
) -> None:
    value, expected = EXPECTED[method]
    query = ActionQuery(names=(NameQuery(name=value, method=method),))
    assert {a.name for a in (await live.actions.search(named, ORG, query)).actions} == expected


async def test_wildcards_in_a_value_match_only_themselves(live: Chronik, named: str) -> None:
    query = ActionQuery(names=(NameQuery(name="%", method="CONTAINS"),))
    assert [a.name for a in (await live.actions.search(named, ORG, query)).actions] == ["beta_%"]


async def test_sorting_by_name_ascending_and_descending(live: Chronik, named: str) -> None:
    up = await live.actions.search(named, ORG, ActionQuery(sorting_column="NAME", asc=True))
    down = await live.actions.search(named, ORG, ActionQuery(sorting_column="NAME"))
    assert [a.name for a in up.actions] == ["Alpha one", "alpha two", "beta_%", "Gamma one"]
    assert [a.name for a in down.actions] == list(reversed([a.name for a in up.actions]))


async def test_sorting_by_state_and_filtering_by_state(live: Chronik, named: str) -> None:
    listed = (await live.actions.search(named, ORG, ActionQuery(asc=True))).actions
    await live.actions.deactivate(named, ORG, listed[2].id)
    by_state = await live.actions.search(named, ORG, ActionQuery(sorting_column="STATE", asc=True))
    assert by_state.actions[-1].id == listed[2].id
    inactive = await live.actions.search(named, ORG, ActionQuery(states=("INACTIVE",)))
    assert [a.id for a in inactive.actions] == [listed[2].id]


async def test_sorting_by_id_is_creation_order(live: Chronik, named: str) -> None:
    up = await live.actions.search(named, ORG, ActionQuery(sorting_column="ID", asc=True))
    assert [a.name for a in up.actions] == NAMES


async def test_offset_and_limit_page_through_the_total(live: Chronik, named: str) -> None:
    page = await live.actions.search(named, ORG, ActionQuery(offset=1, limit=2, asc=True))
    assert page.total == 4
    assert [a.name for a in page.actions] == NAMES[1:3]


async def test_a_limit_above_the_maximum_is_refused(live: Chronik, named: str) -> None:
    with pytest.raises(InvalidArgument):
        await live.actions.search(named, ORG, ActionQuery(limit=live.settings.search_max_limit + 1))


# -- flows ----------------------------------------------------------------------------------


async def test_binding_an_unknown_or_foreign_action_is_refused(live: Chronik, acme: str) -> None:
    foreign = await live.actions.create(acme, "org-b", name="check", script=ENRICH)
    for ids in (["01HZZZZZZZZZZZZZZZZZZZZZZZ"], [foreign.id]):
        with pytest.raises(InvalidArgument):
            await live.actions.set_trigger(acme, ORG, EVENTS, PRE, ids)
    with pytest.raises(InvalidArgument):
        await live.actions.set_trigger(acme, ORG, "FLOW_TYPE_NOPE", PRE, [])
    with pytest.raises(InvalidArgument):
        await live.actions.set_trigger(acme, ORG, EVENTS, "TRIGGER_TYPE_ON_FIRE", [])


async def test_a_deleted_action_leaves_its_triggers(live: Chronik, acme: str) -> None:
    a = await live.actions.create(acme, ORG, name="a", script=ENRICH)
    b = await live.actions.create(acme, ORG, name="b", script=ENRICH)
    await live.actions.set_trigger(acme, ORG, EVENTS, PRE, [a.id, b.id])
    await live.actions.delete(acme, ORG, a.id)
    flow = await live.actions.flow(acme, ORG, EVENTS)
    assert flow.triggers[PRE].action_ids == (b.id,)


async def test_clearing_a_flow_unbinds_every_trigger(live: Chronik, acme: str) -> None:
    await bind(live, acme, PRE, ("enrich", ENRICH))
    await live.actions.clear_flow(acme, ORG, EVENTS)
    assert (await live.actions.flow(acme, ORG, EVENTS)).triggers == {}
    stored = await live.events.append(acme, [user_added({"email": "a@b"})])
    assert stored[0].payload == {"email": "a@b"}


# -- pre-append -----------------------------------------------------------------------------


async def test_a_rejecting_action_refuses_the_append_and_writes_nothing(
    live: Chronik, acme: str
) -> None:
    await bind(live, acme, PRE, ("check", REJECT_EMPTY))
    head = await live.events.head(acme)
    with pytest.raises(FailedPrecondition) as refused:
        await live.events.append(acme, [user_added({"email": "a@b"}), user_added({})])
    assert "an email is required" in refused.value.message
    assert await live.events.head(acme) == head


async def test_an_enriching_action_adds_to_the_stored_payload(live: Chronik, acme: str) -> None:
    await bind(live, acme, PRE, ("check", REJECT_EMPTY), ("enrich", ENRICH))
    stored = await live.events.append(acme, [user_added({"email": "a@b"})])
    assert stored[0].payload == {"email": "a@b", "enriched": True, "seenType": "user.added"}


async def test_an_action_sees_the_correlation_and_causation_ids_and_metadata(
    live: Chronik, acme: str
) -> None:
    trace = """
    function trace(ctx, api) {
      api.setField("seen", [ctx.event.correlationId, ctx.event.causationId, ctx.event.metadata]);
    }
    """
    await bind(live, acme, PRE, ("trace", trace))
    traced = NewEvent(
        aggregate_type="user",
        aggregate_id="u-1",
        type="user.added",
        resource_owner=ORG,
        correlation_id="order-7",
        causation_id="e-1",
        metadata={"ip": "10.0.0.1"},
    )
    stored = await live.events.append(acme, [traced, user_added({})])
    assert stored[0].payload == {"seen": ["order-7", "e-1", {"ip": "10.0.0.1"}]}
    assert stored[1].payload == {"seen": [None, None, {}]}


async def test_a_failing_action_that_may_fail_lets_the_append_through(
    live: Chronik, acme: str
) -> None:
    broken = await live.actions.create(acme, ORG, name="broken", script=THROW, allowed_to_fail=True)
    enrich = await live.actions.create(acme, ORG, name="enrich", script=ENRICH)
    await live.actions.set_trigger(acme, ORG, EVENTS, PRE, [broken.id, enrich.id])
    stored = await live.events.append(acme, [user_added({})])
    assert stored[0].payload["enriched"] is True


async def test_a_failing_action_that_may_not_fail_refuses_the_append(
    live: Chronik, acme: str
) -> None:
    await bind(live, acme, PRE, ("broken", THROW))
    with pytest.raises(FailedPrecondition) as refused:
        await live.events.append(acme, [user_added({})])
    assert "out of order" in refused.value.message


async def test_a_trigger_runs_only_for_its_event_types_and_organisation(
    live: Chronik, acme: str
) -> None:
    enrich = await live.actions.create(acme, ORG, name="enrich", script=ENRICH)
    await live.actions.set_trigger(
        acme, ORG, EVENTS, PRE, [enrich.id], event_types=["user.added"], aggregate_types=["user"]
    )
    other_type = NewEvent(aggregate_type="user", aggregate_id="u", type="user.removed")
    stored = await live.events.append(
        acme, [other_type, user_added({}, org="org-b"), user_added({})]
    )
    assert [("enriched" in e.payload) for e in stored] == [False, False, True]


async def test_an_inactive_action_does_not_run(live: Chronik, acme: str) -> None:
    await bind(live, acme, PRE, ("check", REJECT_EMPTY))
    listed = await live.actions.search(acme, ORG, ActionQuery())
    await live.actions.deactivate(acme, ORG, listed.actions[0].id)
    assert (await live.events.append(acme, [user_added({})]))[0].payload == {}


async def test_every_run_leaves_a_record_with_its_logs(live: Chronik, acme: str) -> None:
    await bind(live, acme, PRE, ("enrich", ENRICH))
    await live.events.append(acme, [user_added({})])
    (run,) = await live.actions.runs(acme)
    assert (run.action_name, run.outcome, run.trigger_type) == ("enrich", "succeeded", PRE)
    assert run.event_type == "user.added"
    assert run.event_sequence is None  # before the append: the event has no place yet
    assert run.logs == (("info", "enriching user.added"),)


# -- post-append ----------------------------------------------------------------------------


async def _failed(live: Chronik, tenant: str, view: str) -> list[int]:
    for _ in range(400):
        found = await live.views.failed(tenant, view=view)
        if found:
            return [f.sequence for f in found]
        await asyncio.sleep(0.01)
    return []


async def test_a_failing_post_append_action_becomes_a_failed_event_and_a_fix_clears_it(
    live: Chronik, acme: str
) -> None:
    broken = await live.actions.create(acme, ORG, name="broken", script=THROW)
    await live.actions.set_trigger(acme, ORG, EVENTS, POST, [broken.id])
    stored = await live.events.append(acme, [user_added({})])
    assert await _failed(live, acme, "actions.post_append") == [stored[0].sequence]
    (failed,) = await live.views.failed(acme, view="actions.post_append")
    assert "out of order" in failed.error
    fixed = "function broken(ctx, api) { log.info('fixed ' + ctx.event.sequence) }"
    await live.actions.update(acme, ORG, broken.id, name="broken", script=fixed)
    await live.views.retry(acme, "actions.post_append", stored[0].sequence)
    for _ in range(400):
        if not await live.views.failed(acme, view="actions.post_append"):
            break
        await asyncio.sleep(0.01)
    assert await live.views.failed(acme, view="actions.post_append") == []
    runs = await live.actions.runs(acme, outcome="succeeded")
    assert runs[0].logs == (("info", f"fixed {stored[0].sequence}"),)
    assert runs[0].event_sequence == stored[0].sequence


# -- on-fire --------------------------------------------------------------------------------


async def test_on_fire_actions_enrich_the_firing_or_fail_it(live: Chronik, acme: str) -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    enrich = await live.actions.create(
        acme,
        ORG,
        name="stamp",
        script="function stamp(ctx, api) { api.setField('by', ctx.firing.name) }",
    )
    picky = await live.actions.create(
        acme,
        ORG,
        name="picky",
        script="function picky(ctx, api) { if (ctx.firing.name === 'bad') api.reject('no') }",
    )
    await live.actions.set_trigger(
        acme, ORG, "FLOW_TYPE_SCHEDULES", "TRIGGER_TYPE_ON_FIRE", [picky.id, enrich.id]
    )
    for name in ("good", "bad"):
        await live.schedules.create(
            Schedule(
                tenant_id=acme,
                name=name,
                event_type="billing.due",
                payload={"n": 1},
                rule=TimeRule(kind="once", at=moment),
            )
        )
    scheduler = Scheduler(
        live.db,
        live.settings,
        clock=lambda: moment + timedelta(seconds=1),
        hooks=[live.actions.executor.on_fire],
    )
    assert await scheduler.tick() == 2
    page = await live.events.search(acme, EventQuery(event_types=("billing.due",)))
    assert [e.payload for e in page.events] == [{"n": 1, "by": "good"}]
    (job,) = await live.schedules.failed_jobs(acme)
    assert job.name == "bad"
    assert "no" in job.error
