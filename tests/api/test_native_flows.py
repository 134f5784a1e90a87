"""The native API of flows (``/v1/flows``): bindings with the event and aggregate type
filters ZITADEL's ``TriggerAction`` has no field for."""

from __future__ import annotations

import httpx
import pytest

from chronik.services import Chronik
from tests.api.helpers import ORG, OTHER_ORG, Headers, append, native_error, new_event

FLOW = "/v1/flows/FLOW_TYPE_EVENTS"
PRE = "TRIGGER_TYPE_PRE_APPEND"
CHECK = "function check(ctx, api) { if (!ctx.event.payload.email) api.reject('email missing') }"


async def action(chronik: Chronik, tenant: str, name: str = "check", org: str = ORG) -> str:
    script = CHECK.replace("check(", f"{name}(")
    created = await chronik.actions.create(tenant, org, name=name, script=script)
    return created.id


async def test_a_flow_shows_every_trigger_with_its_actions_and_filters(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, org_owner: Headers
) -> None:
    empty = await api.get(FLOW, headers=org_owner)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "flowType": "FLOW_TYPE_EVENTS",
        "triggers": [
            {"triggerType": t, "actionIds": [], "eventTypes": [], "aggregateTypes": []}
            for t in (PRE, "TRIGGER_TYPE_POST_APPEND")
        ],
    }
    action_id = await action(chronik, tenant)
    body = {"actionIds": [action_id], "eventTypes": ["user.added"], "aggregateTypes": ["user"]}
    put = await api.put(f"{FLOW}/triggers/{PRE}", headers=org_owner, json=body)
    assert put.status_code == 200, put.text
    shown = (await api.get(FLOW, headers=org_owner)).json()
    assert shown == put.json()
    assert shown["triggers"][0] == {"triggerType": PRE, **body}
    assert int(shown["sequence"]) > 0 and shown["changedAt"]


async def test_a_binding_runs_its_actions_only_for_the_event_types_it_names(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, owner: Headers
) -> None:
    body = {"actionIds": [await action(chronik, tenant)], "eventTypes": ["user.added"]}
    put = await api.put(f"{FLOW}/triggers/{PRE}", headers=owner, json=body)
    assert put.status_code == 200, put.text
    assert await append(api, owner, new_event(type="user.removed", payload={}))
    refused = await api.post(
        "/v1/events", headers=owner, json={"events": [new_event(type="user.added", payload={})]}
    )
    assert "email missing" in native_error(refused, 400, "FAILED_PRECONDITION")


async def test_a_binding_without_filters_is_for_every_event(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, owner: Headers
) -> None:
    action_id = await action(chronik, tenant)
    await api.put(f"{FLOW}/triggers/{PRE}", headers=owner, json={"actionIds": [action_id]})
    body = {"events": [new_event(type="anything.happened", payload={})]}
    refused = await api.post("/v1/events", headers=owner, json=body)
    native_error(refused, 400, "FAILED_PRECONDITION")


async def test_an_empty_action_list_unbinds_the_trigger_and_its_filters(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, org_owner: Headers
) -> None:
    body = {"actionIds": [await action(chronik, tenant)], "eventTypes": ["user.added"]}
    await api.put(f"{FLOW}/triggers/{PRE}", headers=org_owner, json=body)
    put = await api.put(f"{FLOW}/triggers/{PRE}", headers=org_owner, json={"actionIds": []})
    assert put.json()["triggers"][0] == {
        "triggerType": PRE,
        "actionIds": [],
        "eventTypes": [],
        "aggregateTypes": [],
    }


async def test_a_flow_is_the_named_organisations(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, owner: Headers, org_owner: Headers
) -> None:
    there = {**owner, "x-zitadel-orgid": OTHER_ORG}
    body = {"actionIds": [await action(chronik, tenant, org=OTHER_ORG)]}
    put = await api.put(f"{FLOW}/triggers/{PRE}", headers=there, json=body)
    assert put.status_code == 200, put.text
    assert (await api.get(FLOW, headers=there)).json()["triggers"][0]["actionIds"]
    assert not (await api.get(FLOW, headers=org_owner)).json()["triggers"][0]["actionIds"]
    denied = await api.get(FLOW, headers={**org_owner, "x-zitadel-orgid": OTHER_ORG})
    native_error(denied, 403, "PERMISSION_DENIED")


async def test_another_tenants_action_cannot_be_bound(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, stranger: Headers
) -> None:
    body = {"actionIds": [await action(chronik, tenant)]}
    refused = await api.put(f"{FLOW}/triggers/{PRE}", headers=stranger, json=body)
    native_error(refused, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/flows/FLOW_TYPE_NOPE/triggers/TRIGGER_TYPE_PRE_APPEND", {}),
        (f"{FLOW}/triggers/TRIGGER_TYPE_ON_FIRE", {}),
        (f"{FLOW}/triggers/{PRE}", {"eventTypes": [f"t{i}" for i in range(31)]}),
        (f"{FLOW}/triggers/{PRE}", {"aggregateTypes": [""]}),
        (f"{FLOW}/triggers/{PRE}", {"eventTypes": ["x" * 201]}),
        (f"{FLOW}/triggers/{PRE}", {"actionIds": ["a\u0000"]}),
        (f"{FLOW}/triggers/{PRE}", {"actionIds": [f"a{i}" for i in range(51)]}),
        (f"{FLOW}/triggers/{PRE}", {"actionIds": ["not-an-action"]}),
    ],
    ids=[
        "unknown-flow",
        "unknown-trigger",
        "too-many-types",
        "empty-type",
        "long-type",
        "nul",
        "too-many-actions",
        "no-such-action",
    ],
)
async def test_a_bad_binding_is_invalid_argument(
    api: httpx.AsyncClient, org_owner: Headers, path: str, body: dict[str, object]
) -> None:
    native_error(await api.put(path, headers=org_owner, json=body), 400, "INVALID_ARGUMENT")


async def test_an_unknown_flow_type_is_invalid_argument(
    api: httpx.AsyncClient, org_owner: Headers
) -> None:
    response = await api.get("/v1/flows/FLOW_TYPE_NOPE", headers=org_owner)
    native_error(response, 400, "INVALID_ARGUMENT")


async def test_reading_and_binding_take_the_flow_permissions(
    api: httpx.AsyncClient, org_viewer: Headers, reader: Headers
) -> None:
    native_error(await api.get(FLOW, headers={}), 401, "UNAUTHENTICATED")
    native_error(await api.get(FLOW, headers=reader), 403, "PERMISSION_DENIED")
    assert (await api.get(FLOW, headers=org_viewer)).status_code == 200
    put = await api.put(f"{FLOW}/triggers/{PRE}", headers=org_viewer, json={})
    native_error(put, 403, "PERMISSION_DENIED")
