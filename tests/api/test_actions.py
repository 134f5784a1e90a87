"""The ZITADEL Management API of actions and flows, and the native runs and test routes:
shapes, permissions, organisations, tenants, and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chronik.services import Chronik
from tests.api.helpers import (
    ORG,
    Headers,
    append,
    bearer,
    native_error,
    new_event,
    zitadel_error,
)
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

M = "/management/v1"
CHECK = "function check(ctx, api) { if (!ctx.event.payload.email) api.reject('email missing') }"
ENRICH = "function enrich(ctx, api) { log.info('hello'); api.setField('enriched', true) }"
BROKEN = "function broken(ctx, api) { throw new Error('out of order') }"


@pytest.fixture
async def running(chronik: Chronik) -> AsyncIterator[Chronik]:
    chronik.start_views()
    yield chronik


async def create(
    api: httpx.AsyncClient, headers: Headers, name: str, script: str, **extra: Any
) -> str:
    response = await api.post(
        f"{M}/actions", headers=headers, json={"name": name, "script": script, **extra}
    )
    assert response.status_code == 200, response.text
    action_id: str = response.json()["id"]
    return action_id


async def bind(
    api: httpx.AsyncClient, headers: Headers, trigger: str, *ids: str, **extra: Any
) -> None:
    response = await api.post(
        f"{M}/flows/FLOW_TYPE_EVENTS/trigger/{trigger}",
        headers=headers,
        json={"actionIds": list(ids), **extra},
    )
    assert response.status_code == 200, response.text


async def test_search_answers_in_the_shape_of_the_seed(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    action_id = await create(
        api, org_owner, "log context", ENRICH, timeout="2.5s", allowedToFail=True
    )
    response = await api.post(f"{M}/actions/_search", headers=org_owner, json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["details"]["totalResult"] == "1"
    assert int(body["details"]["processedSequence"]) > 0
    assert body["details"]["viewTimestamp"].endswith("Z")
    assert "sortingColumn" not in body, "protojson leaves the default (UNSPECIFIED) out"
    (found,) = body["result"]
    assert found["id"] == action_id
    assert found["state"] == "ACTION_STATE_ACTIVE"
    assert (found["name"], found["script"], found["timeout"]) == ("log context", ENRICH, "2.500s")
    assert found["allowedToFail"] is True
    assert found["details"]["resourceOwner"] == ORG
    assert set(found["details"]) == {"sequence", "creationDate", "changeDate", "resourceOwner"}


async def test_search_takes_queries_enums_by_name_or_number_and_sorts(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    for name in ("b-two", "a-one", "c-three"):
        await create(api, org_owner, name, ENRICH)
    by_name = {
        "sortingColumn": "ACTION_FIELD_NAME_NAME",
        "query": {"asc": True, "limit": 2, "offset": "0"},
        "queries": [
            {"actionNameQuery": {"name": "-T", "method": "TEXT_QUERY_METHOD_CONTAINS_IGNORE_CASE"}}
        ],
    }
    response = await api.post(f"{M}/actions/_search", headers=org_owner, json=by_name)
    assert [a["name"] for a in response.json()["result"]] == ["b-two", "c-three"]
    by_number = {"sorting_column": 1, "queries": [{"action_state_query": {"state": 2}}]}
    response = await api.post(f"{M}/actions/_search", headers=org_owner, json=by_number)
    assert [a["name"] for a in response.json()["result"]] == ["c-three", "b-two", "a-one"]


@pytest.mark.parametrize(
    "body",
    [
        {"queries": [{"actionStateQuery": {"state": 7}}]},
        {"queries": [{}]},
        {"queries": [{"actionIdQuery": {"id": "a"}, "actionStateQuery": {"state": 1}}]},
        {"query": {"limit": 5001}},
        {"query": {"limit": "many"}},
        {"query": {"offset": -1}},
        {"queries": "all"},
        [1, 2],
    ],
)
async def test_a_bad_search_is_a_400_in_zitadels_format(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers, body: Any
) -> None:
    response = await api.post(f"{M}/actions/_search", headers=org_owner, json=body)
    zitadel_error(response, 400, 3)


async def test_an_unknown_enum_name_is_dropped_as_grpc_gateway_drops_it(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    await create(api, org_owner, "enrich", ENRICH)
    unknown_method = {"actionNameQuery": {"name": "enrich", "method": "TEXT_QUERY_METHOD_LIKE"}}
    body = {"sortingColumn": "ACTION_FIELD_NAME_COLOUR", "queries": [unknown_method]}

    response = await api.post(f"{M}/actions/_search", headers=org_owner, json=body)

    assert response.status_code == 200, response.text
    assert [a["name"] for a in response.json()["result"]] == ["enrich"], "method: EQUALS"


async def test_get_update_deactivate_reactivate_delete(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    action_id = await create(api, org_owner, "enrich", ENRICH)
    url = f"{M}/actions/{action_id}"
    changed = await api.put(
        url, headers=org_owner, json={"name": "enrich2", "script": ENRICH, "timeout": "0s"}
    )
    assert changed.status_code == 200, changed.text
    assert set(changed.json()["details"]) >= {"sequence", "changeDate"}
    got = (await api.get(url, headers=org_owner)).json()["action"]
    assert (got["name"], got["timeout"]) == ("enrich2", "20s")
    assert (await api.post(f"{url}/_deactivate", headers=org_owner)).status_code == 200
    again = await api.post(f"{url}/_deactivate", headers=org_owner)
    zitadel_error(again, 400, 9)
    got = (await api.get(url, headers=org_owner)).json()["action"]
    assert got["state"] == "ACTION_STATE_INACTIVE"
    assert (await api.post(f"{url}/_reactivate", headers=org_owner)).status_code == 200
    assert (await api.delete(url, headers=org_owner)).status_code == 200
    zitadel_error(await api.get(url, headers=org_owner), 404, 5)
    zitadel_error(await api.delete(url, headers=org_owner), 404, 5)


async def test_a_taken_name_is_a_409(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    await create(api, org_owner, "enrich", ENRICH)
    response = await api.post(
        f"{M}/actions", headers=org_owner, json={"name": "enrich", "script": ENRICH}
    )
    zitadel_error(response, 409, 6)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"name": "a", "script": "function a( {", "timeout": "1s"}, "line 1"),
        ({"name": "a", "script": ENRICH, "timeout": "21s"}, "timeout"),
        ({"name": "a", "script": ENRICH, "timeout": "ten seconds"}, "timeout"),
        ({"name": "a", "script": ENRICH, "timeout": 10}, "timeout"),
        ({"name": "", "script": ENRICH}, "name"),
        ({"name": "a" * 201, "script": ENRICH}, "name"),
        ({"name": "a", "script": "x" * 40_001}, "script"),
        ({"name": "a", "script": 42}, "script"),
        ({"name": "a", "script": ENRICH, "allowedToFail": "perhaps"}, "allowed"),
        ({"name": "a\u0000b", "script": ENRICH}, "NUL"),
    ],
)
async def test_a_bad_action_is_a_400_that_says_why(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers, body: Any, says: str
) -> None:
    response = await api.post(f"{M}/actions", headers=org_owner, json=body)
    assert says.lower() in zitadel_error(response, 400, 3).lower()
    listed = await api.post(f"{M}/actions/_search", headers=org_owner, json={})
    assert "result" not in listed.json(), "nothing was created"


async def test_a_huge_body_is_resource_exhausted(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    body = {"name": "a", "script": "x" * (running.settings.max_body_bytes + 1)}
    zitadel_error(await api.post(f"{M}/actions", headers=org_owner, json=body), 429, 8)


async def test_tokens_and_permissions_are_checked(
    api: httpx.AsyncClient,
    running: Chronik,
    org_owner: Headers,
    org_viewer: Headers,
    writer: Headers,
) -> None:
    action_id = await create(api, org_owner, "enrich", ENRICH)
    body = {"name": "x", "script": ENRICH}
    zitadel_error(await api.post(f"{M}/actions", json=body), 401, 16)
    wrong = {"Authorization": "Bearer nope"}
    zitadel_error(await api.post(f"{M}/actions/_search", headers=wrong, json={}), 401, 16)
    zitadel_error(await api.post(f"{M}/actions", headers=org_viewer, json=body), 403, 7)
    zitadel_error(await api.delete(f"{M}/actions/{action_id}", headers=org_viewer), 403, 7)
    zitadel_error(await api.post(f"{M}/actions/_search", headers=writer, json={}), 403, 7)
    assert (await api.get(f"{M}/actions/{action_id}", headers=org_viewer)).status_code == 200
    clear = await api.post(f"{M}/flows/FLOW_TYPE_EVENTS/_clear", headers=org_viewer)
    zitadel_error(clear, 403, 7)


async def test_another_tenants_or_organisations_action_is_a_404(
    api: httpx.AsyncClient, running: Chronik, tenant: str, org_owner: Headers, stranger: Headers
) -> None:
    action_id = await create(api, org_owner, "enrich", ENRICH)
    zitadel_error(await api.get(f"{M}/actions/{action_id}", headers=stranger), 404, 5)
    zitadel_error(await api.delete(f"{M}/actions/{action_id}", headers=stranger), 404, 5)
    other_org = await bearer(running, tenant, "ORG_OWNER", organisation_id="org-other")
    zitadel_error(await api.get(f"{M}/actions/{action_id}", headers=other_org), 404, 5)
    listed = await api.post(f"{M}/actions/_search", headers=stranger, json={})
    assert "result" not in listed.json()


async def test_the_organisation_header_is_for_owners_of_the_tenant(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers, owner: Headers
) -> None:
    action_id = await create(api, org_owner, "enrich", ENRICH)
    elsewhere = {**org_owner, "x-zitadel-orgid": "org-other"}
    zitadel_error(await api.post(f"{M}/actions/_search", headers=elsewhere, json={}), 403, 7)
    as_owner = {**owner, "x-zitadel-orgid": ORG}
    got = await api.get(f"{M}/actions/{action_id}", headers=as_owner)
    assert got.status_code == 200, got.text


async def test_flow_types_and_trigger_types_are_listed(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    flows = (await api.post(f"{M}/flows/types/_search", headers=org_owner)).json()["result"]
    assert [f["id"] for f in flows] == ["FLOW_TYPE_EVENTS", "FLOW_TYPE_SCHEDULES"]
    assert all(set(f["name"]) == {"key", "localizedMessage"} for f in flows)
    url = f"{M}/flows/FLOW_TYPE_EVENTS/triggers/_search"
    triggers = (await api.post(url, headers=org_owner)).json()["result"]
    assert [t["id"] for t in triggers] == ["TRIGGER_TYPE_PRE_APPEND", "TRIGGER_TYPE_POST_APPEND"]
    unknown = await api.post(f"{M}/flows/FLOW_TYPE_NOPE/triggers/_search", headers=org_owner)
    zitadel_error(unknown, 404, 5)  # as ZITADEL's MANAG-P2OBk


async def test_a_flow_shows_its_triggers_and_their_ordered_actions(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers
) -> None:
    first = await create(api, org_owner, "check", CHECK)
    second = await create(api, org_owner, "enrich", ENRICH)
    await bind(api, org_owner, "TRIGGER_TYPE_PRE_APPEND", second, first)
    flow = (await api.get(f"{M}/flows/FLOW_TYPE_EVENTS", headers=org_owner)).json()["flow"]
    assert flow["type"]["id"] == "FLOW_TYPE_EVENTS"
    assert flow["state"] == "FLOW_STATE_ACTIVE"
    (trigger,) = flow["triggerActions"]
    assert trigger["triggerType"]["id"] == "TRIGGER_TYPE_PRE_APPEND"
    assert [a["id"] for a in trigger["actions"]] == [second, first]
    assert set(trigger) == {"triggerType", "actions"}, "only TriggerAction's fields"
    cleared = await api.post(f"{M}/flows/FLOW_TYPE_EVENTS/_clear", headers=org_owner)
    assert cleared.status_code == 200, cleared.text
    flow = (await api.get(f"{M}/flows/FLOW_TYPE_EVENTS", headers=org_owner)).json()["flow"]
    assert flow["state"] == "FLOW_STATE_INACTIVE"
    assert "triggerActions" not in flow


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("FLOW_TYPE_EVENTS/trigger/TRIGGER_TYPE_ON_FIRE", {"actionIds": []}),
        ("FLOW_TYPE_NOPE/trigger/TRIGGER_TYPE_PRE_APPEND", {"actionIds": []}),
        ("FLOW_TYPE_EVENTS/trigger/TRIGGER_TYPE_PRE_APPEND", {"actionIds": ["nope"]}),
        ("FLOW_TYPE_EVENTS/trigger/TRIGGER_TYPE_PRE_APPEND", {"actionIds": "nope"}),
        ("FLOW_TYPE_EVENTS/trigger/TRIGGER_TYPE_PRE_APPEND", {"actionIds": ["a"] * 51}),
    ],
)
async def test_a_bad_binding_is_a_400(
    api: httpx.AsyncClient, running: Chronik, org_owner: Headers, path: str, body: Any
) -> None:
    response = await api.post(f"{M}/flows/{path}", headers=org_owner, json=body)
    zitadel_error(response, 400, 3)


async def test_a_rejecting_action_refuses_an_http_append_and_an_enriching_one_adds(
    api: httpx.AsyncClient, running: Chronik, owner: Headers
) -> None:
    first = await create(api, owner, "check", CHECK)
    second = await create(api, owner, "enrich", ENRICH)
    await bind(api, owner, "TRIGGER_TYPE_PRE_APPEND", first, second)
    refused = await api.post("/v1/events", headers=owner, json={"events": [new_event(payload={})]})
    assert "email missing" in native_error(refused, 400, "FAILED_PRECONDITION")
    (stored,) = await append(api, owner, new_event(payload={"email": "a@b"}))
    assert stored["payload"] == {"email": "a@b", "enriched": True}


async def test_a_failing_post_append_action_shows_in_failed_events(
    api: httpx.AsyncClient, running: Chronik, owner: Headers
) -> None:
    broken = await create(api, owner, "broken", BROKEN)
    await bind(api, owner, "TRIGGER_TYPE_POST_APPEND", broken)
    (stored,) = await append(api, owner, new_event())
    for _ in range(400):
        response = await api.post("/admin/v1/failedevents/_search", headers=owner, json={})
        listed = response.json().get("result", [])
        found = [f for f in listed if f["viewName"] == "actions.post_append"]
        if found:
            break
        await asyncio.sleep(0.01)
    assert [f["failedSequence"] for f in found] == [stored["sequence"]]
    assert "out of order" in found[0]["errorMessage"]


async def test_runs_are_listed_newest_first_with_their_logs(
    api: httpx.AsyncClient, running: Chronik, owner: Headers
) -> None:
    enrich = await create(api, owner, "enrich", ENRICH)
    await bind(api, owner, "TRIGGER_TYPE_PRE_APPEND", enrich)
    for _ in range(3):
        await append(api, owner, new_event())
    response = await api.get("/v1/action-runs", headers=owner, params={"pageSize": 2})
    body = response.json()
    assert len(body["runs"]) == 2
    assert body["runs"][0]["id"] > body["runs"][1]["id"]
    run = body["runs"][0]
    assert (run["actionName"], run["outcome"]) == ("enrich", "succeeded")
    assert run["logs"] == [{"level": "info", "message": "hello"}]
    rest = await api.get(
        "/v1/action-runs", headers=owner, params={"pageSize": 2, "pagingToken": body["pagingToken"]}
    )
    assert len(rest.json()["runs"]) == 1
    bad = await api.get("/v1/action-runs", headers=owner, params={"outcome": "exploded"})
    native_error(bad, 400, "INVALID_ARGUMENT")


async def test_an_action_can_be_tried_on_a_sample_event(
    api: httpx.AsyncClient, running: Chronik, owner: Headers
) -> None:
    enrich = await create(api, owner, "enrich", ENRICH)
    response = await api.post(
        f"/v1/actions/{enrich}/_test", headers=owner, json={"event": {"type": "user.added"}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["fields"]) == ("succeeded", {"enriched": True})
    assert body["logs"] == [{"level": "info", "message": "hello"}]
    assert (await api.get("/v1/action-runs", headers=owner)).json()["runs"] == []


async def test_runs_count_in_the_metrics_by_outcome(
    api: httpx.AsyncClient, running: Chronik, owner: Headers
) -> None:
    first = await create(api, owner, "enrich", ENRICH)
    second = await create(api, owner, "broken", BROKEN, allowedToFail=True)
    await bind(api, owner, "TRIGGER_TYPE_PRE_APPEND", first, second)
    await append(api, owner, new_event())
    text = (await api.get("/metrics")).text
    runs = "chronik_action_runs_total"
    trigger = 'trigger="TRIGGER_TYPE_PRE_APPEND"'
    succeeded = f'{runs}{{action="enrich",action_id="{first}",outcome="succeeded",{trigger}}} 1.0'
    failed = f'{runs}{{action="broken",action_id="{second}",outcome="failed",{trigger}}} 1.0'
    assert succeeded in text
    assert failed in text
    assert f'chronik_action_run_seconds_count{{action="enrich",action_id="{first}"}} 1.0' in text
