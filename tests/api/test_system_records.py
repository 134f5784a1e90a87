"""Chronik's own records over HTTP: a writer cannot forge them, and the Socotra stream keeps
them apart from the tenant's events."""

from __future__ import annotations

import httpx

from chronik.services import Chronik
from tests.api.helpers import ORG, Headers, append, new_event

ACTION = {
    "name": "enrich",
    "script": "function enrich(ctx, api) { api.setField('owned', true) }",
    "timeout": 1,
    "allowedToFail": False,
}


async def test_a_writer_cannot_append_chronik_records(
    api: httpx.AsyncClient, writer: Headers, chronik: Chronik
) -> None:
    forged = new_event("chronik.action", "a-1", "action.added", ACTION, resourceOwner=ORG)
    response = await api.post("/v1/events", headers=writer, json={"events": [forged]})
    assert response.status_code == 400
    assert "'chronik.action' is reserved" in response.json()["error"]["message"]
    assert not any((await chronik.events.heads()).values())


async def test_the_old_forgery_stores_plain_events_that_never_run(
    api: httpx.AsyncClient, writer: Headers, owner: Headers
) -> None:
    """The attack of the report: ``action.added`` and ``flow.trigger.set`` under the old type
    names. They are a user's events now: no action is listed, none runs."""
    await append(api, writer, new_event("action", "a-1", "action.added", ACTION, resourceOwner=ORG))
    binding = {
        "flowType": "FLOW_TYPE_EVENTS",
        "triggerType": "TRIGGER_TYPE_PRE_APPEND",
        "actionIds": ["a-1"],
    }
    await append(
        api,
        writer,
        new_event(
            "flow", f"{ORG}/FLOW_TYPE_EVENTS", "flow.trigger.set", binding, resourceOwner=ORG
        ),
    )
    listed = await api.post("/management/v1/actions/_search", headers=owner, json={})
    assert listed.json().get("result", []) == []
    stored = await append(api, writer, new_event(payload={"n": 1}, resourceOwner=ORG))
    assert stored[0]["payload"] == {"n": 1}


async def test_the_socotra_stream_shows_chronik_records_only_when_asked(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    await append(api, owner, new_event())
    created = await api.post(
        "/management/v1/actions", headers=owner, json={**ACTION, "timeout": "1s"}
    )
    assert created.status_code == 200, created.text
    stream = f"/event/{tenant}/events/list"
    plain = (await api.get(stream, headers=owner)).json()
    assert len(plain["events"]) == 1
    everything = (await api.get(stream, headers=owner, params={"includeSystem": "true"})).json()
    assert len(everything["events"]) == 3
    mixed = await api.get(
        stream, headers=owner, params={"includeSystem": "true", "pagingToken": plain["pagingToken"]}
    )
    assert mixed.status_code == 400
