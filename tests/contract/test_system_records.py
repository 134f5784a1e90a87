"""Chronik's own records (actions, names, flows) on every backend: out of every user write's
reach, never stalling the view that reads them, restored only through their service, and
moved out of the users' namespace in databases made before it was reserved."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from chronik.actions import ActionQuery, model
from chronik.errors import ChronikError, FailedPrecondition, InvalidArgument
from chronik.events import EventQuery
from chronik.ids import new_ulid
from chronik.records import Editor, Event, NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.storage import queries

ORG = "org-a"
ENRICH = "function enrich(ctx, api) { api.setField('enriched', true) }"


def user_added(org: str = ORG) -> NewEvent:
    return NewEvent(
        aggregate_type="user",
        aggregate_id="u-1",
        type="user.added",
        payload={"n": 1},
        resource_owner=org,
    )


def forged_action(aggregate_type: str = model.ACTION) -> NewEvent:
    return NewEvent(
        aggregate_type=aggregate_type,
        aggregate_id="forged",
        type=model.ADDED,
        payload=model.action_payload("enrich", ENRICH, 1.0, False),
        resource_owner=ORG,
    )


def forged_binding(aggregate_type: str = model.FLOW) -> NewEvent:
    return NewEvent(
        aggregate_type=aggregate_type,
        aggregate_id=model.flow_id(ORG, model.EVENTS.id),
        type=model.TRIGGER_SET,
        payload={
            "flowType": model.EVENTS.id,
            "triggerType": model.PRE_APPEND.id,
            "actionIds": ["forged"],
        },
        resource_owner=ORG,
    )


@pytest.mark.parametrize("reserved_type", [model.ACTION, model.FLOW, "chronik.anything"])
async def test_a_user_append_of_a_reserved_type_writes_nothing(
    chronik: Chronik, tenant: str, reserved_type: str
) -> None:
    with pytest.raises(InvalidArgument, match=f"{reserved_type}' is reserved") as refused:
        await chronik.events.append(tenant, [user_added(), forged_action(reserved_type)])
    assert refused.value.details["field"] == "events[1].aggregateType"
    assert not any((await chronik.events.heads()).values())


async def test_events_of_the_old_system_names_are_a_users_own_and_never_run(
    chronik: Chronik, tenant: str
) -> None:
    """What forged an action and bound it before (a writer appending ``action`` and
    ``flow`` events) now only stores two ordinary events."""
    await chronik.events.append(tenant, [forged_action("action")])
    await chronik.events.append(tenant, [forged_binding("flow")])
    assert (await chronik.actions.search(tenant, ORG, ActionQuery())).actions == []
    assert (await chronik.actions.flow(tenant, ORG, model.EVENTS.id)).triggers == {}
    stored = await chronik.events.append(tenant, [user_added()])
    assert stored[0].payload == {"n": 1}


async def test_a_malformed_record_is_a_failed_event_and_the_action_list_goes_on(
    chronik: Chronik, tenant: str
) -> None:
    """However a broken record got into the log, the list records it with the rule it
    breaks and keeps listing what comes after it."""
    cleared = NewEvent(
        aggregate_type=model.FLOW,
        aggregate_id=model.flow_id(ORG, model.EVENTS.id),
        type=model.FLOW_CLEARED,
        payload={},
        resource_owner=ORG,
    )
    await chronik.events.append_own(tenant, [cleared])
    action = await chronik.actions.create(tenant, ORG, name="enrich", script=ENRICH)
    listed = await chronik.actions.search(tenant, ORG, ActionQuery())
    assert [a.id for a in listed.actions] == [action.id]
    failed = await chronik.views.all_failed(tenant, view="actions")
    assert len(failed) == 1
    assert "flow.cleared" in failed[0].error
    assert "flowType" in failed[0].error
    assert "KeyError" not in failed[0].error


async def test_restore_applies_a_services_records_as_they_were(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    action = await chronik.actions.create(tenant, ORG, name="enrich", script=ENRICH)
    await chronik.actions.set_trigger(
        tenant, ORG, model.EVENTS.id, model.PRE_APPEND.id, [action.id]
    )
    page = await chronik.events.search(other_tenant, EventQuery(asc=True))
    assert page.events == []
    source = (await chronik.events.search(tenant, EventQuery(asc=True))).events
    for request in sorted({e.request_id for e in source}, key=lambda r: r):
        events = [e for e in source if e.request_id == request]
        await chronik.restore(
            other_tenant,
            [_new(e) for e in events],
            expected=[],
            request_id=request,
            editor=Editor(),
        )
    restored = await chronik.actions.get(other_tenant, ORG, action.id)
    assert (restored.name, restored.script) == ("enrich", ENRICH)
    stored = await chronik.events.append(other_tenant, [user_added()])
    assert stored[0].payload == {"n": 1, "enriched": True}


def _new(e: Event) -> NewEvent:
    return NewEvent(
        aggregate_type=e.aggregate_type,
        aggregate_id=e.aggregate_id,
        type=e.type,
        payload=e.payload,
        resource_owner=e.resource_owner,
    )


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (
            NewEvent(
                aggregate_type=model.ACTION,
                aggregate_id="a-1",
                type=model.ADDED,
                payload={"name": "x", "script": "function x( {", "timeout": 1, "allowedToFail": 0},
                resource_owner=ORG,
            ),
            "allowedToFail",
        ),
        (
            NewEvent(
                aggregate_type=model.ACTION,
                aggregate_id="a-1",
                type=model.ADDED,
                payload=model.action_payload("x", "function x( {", 1.0, False),
                resource_owner=ORG,
            ),
            "script",
        ),
        (
            NewEvent(aggregate_type=model.ACTION, aggregate_id="a-1", type=model.DEACTIVATED),
            "does not exist",
        ),
        (forged_binding(), "not found"),
        (
            NewEvent(aggregate_type="chronik.webhook", aggregate_id="w", type="webhook.added"),
            "not a record Chronik knows",
        ),
    ],
    ids=["wrong-type", "syntax-error", "no-such-action", "unknown-action-bound", "unknown-kind"],
)
async def test_restore_refuses_a_record_its_service_would_not_write(
    chronik: Chronik, tenant: str, event: NewEvent, problem: str
) -> None:
    with pytest.raises((InvalidArgument, FailedPrecondition, ChronikError), match=problem):
        await chronik.restore(tenant, [event], expected=[], request_id=new_ulid(), editor=Editor())
    assert not any((await chronik.events.heads()).values())


async def test_the_socotra_stream_leaves_chronik_records_out_unless_asked(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [user_added()])
    await chronik.actions.create(tenant, ORG, name="enrich", script=ENRICH)
    users = await chronik.events.stream(tenant)
    assert [e.aggregate_type for e in users.events] == ["user"]
    everything = await chronik.events.stream(tenant, system=True)
    assert {e.aggregate_type for e in everything.events} == {
        "user",
        model.ACTION,
        model.ACTION_NAME,
    }
    more = await chronik.events.next_page(tenant, users.paging_token)
    assert more.events == []
    # ZITADEL's ListEvents shows them, as ZITADEL shows its own events.
    listed = await chronik.events.search(tenant, EventQuery())
    assert len(listed.events) == 3


async def test_migration_moves_the_records_of_an_older_database(settings: Settings) -> None:
    """A database made before the namespace was reserved: its actions and flows still work
    after the upgrade, and other events of the old type names stay the users'."""
    async with await Chronik.open(settings) as chronik:
        tenant = (await chronik.tenants.create("acme")).id
        action = await chronik.actions.create(tenant, ORG, name="enrich", script=ENRICH)
        await chronik.actions.set_trigger(
            tenant, ORG, model.EVENTS.id, model.PRE_APPEND.id, [action.id]
        )
        await chronik.events.append(
            tenant, [NewEvent(aggregate_type="flow", aggregate_id="f", type="river.flowed")]
        )
    package = (
        "chronik.storage.sqlite"
        if settings.resolved_database_url.startswith("sqlite")
        else "chronik.storage.postgres"
    )
    move = next(sql for _, name, sql in queries.migrations(package) if name == "system_namespace")
    _downgrade(settings.resolved_database_url, move)
    async with await Chronik.open(settings) as chronik:
        kinds = {
            e.aggregate_type for e in (await chronik.events.search(tenant, EventQuery())).events
        }
        assert kinds == {model.ACTION, model.ACTION_NAME, model.FLOW, "flow"}
        assert (await chronik.actions.get(tenant, ORG, action.id)).name == "enrich"
        names = [t.type for t in await chronik.catalogue.aggregate_types(tenant)]
        assert "action" not in names
        assert model.ACTION in names
        stored = await chronik.events.append(tenant, [user_added()])
        assert stored[0].payload["enriched"] is True


def _downgrade(url: str, move: str) -> None:
    """Put the records back under their old names, as a database before the move had them,
    then run the migration that moves them (``move``), as an upgrade would; later
    migrations are left as they are."""
    statements = [
        "UPDATE events SET aggregate_type = substr(aggregate_type, 9)"
        " WHERE aggregate_type LIKE 'chronik.%'",
        "DELETE FROM event_names WHERE name LIKE 'chronik.%' AND EXISTS (SELECT 1 FROM"
        " event_names n WHERE n.tenant_key = event_names.tenant_key AND n.kind = event_names.kind"
        " AND n.name = substr(event_names.name, 9))",
        "UPDATE event_names SET name = substr(name, 9) WHERE name LIKE 'chronik.%'",
    ]
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
            for statement in statements:
                con.execute(statement)
            con.executescript(move)
    else:
        with psycopg.connect(url) as conn:
            for statement in [*statements, move]:
                conn.execute(statement.encode())
