"""Consumer groups over the native API: consumers fetch, ack and nack with events.read;
operators make and remove groups and replay or remove parked events with iam.write; bad
input and other tenants' groups answer the native error format."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.helpers import Headers, native_error

GROUP = {
    "name": "billing",
    "eventTypes": ["order.placed"],
    "ackTimeoutSeconds": 0.2,
    "maxDeliveries": 2,
    "retrySeconds": 0,
}


async def place(api: httpx.AsyncClient, headers: Headers, count: int) -> list[str]:
    answer = await api.post(
        "/v1/events",
        headers=headers,
        json={
            "events": [
                {"aggregateType": "order", "aggregateId": f"o{n}", "type": "order.placed"}
                for n in range(count)
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    return [e["sequence"] for e in answer.json()["events"]]


async def test_consumers_fetch_ack_and_nack_and_operators_handle_parked(
    api: httpx.AsyncClient, owner: Headers, writer: Headers
) -> None:
    made = await api.post("/v1/groups", headers=owner, json=GROUP)
    assert made.status_code == 200, made.text
    assert {k: made.json()[k] for k in ("name", "maxDeliveries", "inFlight", "parked")} == {
        "name": "billing",
        "maxDeliveries": 2,
        "inFlight": 0,
        "parked": 0,
    }
    placed = await place(api, writer, 3)
    fetched = await api.post(
        "/v1/groups/billing/fetch", headers=writer, json={"consumer": "a", "limit": 2}
    )
    events = fetched.json()["events"]
    assert [(e["deliveries"], e["event"]["sequence"]) for e in events] == [
        (1, placed[0]),
        (1, placed[1]),
    ]
    acked = await api.post(
        "/v1/groups/billing/ack", headers=writer, json={"sequences": [placed[0], "999999"]}
    )
    assert acked.json() == {"sequences": [placed[0]]}
    nacked = await api.post(
        "/v1/groups/billing/nack",
        headers=writer,
        json={"sequences": [placed[1]], "action": "park", "reason": "bad amount"},
    )
    assert nacked.json() == {"sequences": [placed[1]]}
    shown = (await api.get("/v1/groups/billing", headers=writer)).json()
    assert (shown["parked"], shown["inFlight"], shown["position"]) == (1, 0, placed[1])
    (parked,) = (await api.get("/v1/groups/billing/parked", headers=writer)).json()["parked"]
    assert (parked["sequence"], parked["error"]) == (placed[1], "bad amount")

    native_error(
        await api.post("/v1/groups/billing/_replay", headers=writer, json={}),
        403,
        "PERMISSION_DENIED",
    )
    replayed = await api.post(
        "/v1/groups/billing/_replay", headers=owner, json={"sequence": placed[1]}
    )
    assert replayed.json() == {"replayed": 1}
    again = await api.post("/v1/groups/billing/fetch", headers=writer, json={"consumer": "b"})
    assert [e["event"]["sequence"] for e in again.json()["events"]] == [placed[1], placed[2]]
    await asyncio.sleep(0.25)  # neither acknowledged in time: the replayed one had its one
    # more try and is parked again; the other goes out a second time
    late = await api.post("/v1/groups/billing/fetch", headers=writer, json={"consumer": "c"})
    assert [(e["event"]["sequence"], e["deliveries"]) for e in late.json()["events"]] == [
        (placed[2], 2)
    ]
    await asyncio.sleep(0.25)  # handed out max times: the next fetch parks it
    nothing = await api.post("/v1/groups/billing/fetch", headers=writer, json={"consumer": "d"})
    assert nothing.json() == {"events": []}
    parked_now = (await api.get("/v1/groups/billing/parked", headers=writer)).json()["parked"]
    assert [p["sequence"] for p in parked_now] == [placed[1], placed[2]]
    removed = await api.delete(f"/v1/groups/billing/parked/{placed[2]}", headers=owner)
    assert removed.status_code == 204
    assert (await api.delete("/v1/groups/billing", headers=owner)).status_code == 204
    native_error(await api.get("/v1/groups/billing", headers=owner), 404, "NOT_FOUND")


async def test_bad_input_and_other_tenants_get_clear_errors(
    api: httpx.AsyncClient, owner: Headers, writer: Headers, stranger: Headers
) -> None:
    assert (await api.post("/v1/groups", headers=owner, json=GROUP)).status_code == 200
    native_error(await api.post("/v1/groups", headers=owner, json=GROUP), 409, "ALREADY_EXISTS")
    native_error(await api.post("/v1/groups", headers=writer, json=GROUP), 403, "PERMISSION_DENIED")
    native_error(await api.post("/v1/groups", json=GROUP), 401, "UNAUTHENTICATED")
    bodies: list[object] = [
        {**GROUP, "name": "has space"},
        {**GROUP, "maxDeliveries": 0},
        {**GROUP, "ackTimeoutSeconds": "soon"},
        {**GROUP, "start": "yesterday"},
        [],
    ]
    for body in bodies:
        native_error(
            await api.post("/v1/groups", headers=owner, json=body), 400, "INVALID_ARGUMENT"
        )
    fetch = "/v1/groups/billing/fetch"
    for body in (
        {"limit": 1},
        {"consumer": ""},
        {"consumer": "a", "limit": 0},
        {"consumer": "a\u0000"},
        {"consumer": "a", "waitSeconds": 31},
    ):
        native_error(await api.post(fetch, headers=writer, json=body), 400, "INVALID_ARGUMENT")
    nacks: list[dict[str, object]] = [
        {"sequences": []},
        {"sequences": ["x"]},
        {"sequences": [0]},
        {"sequences": [1], "action": "skip"},
    ]
    for nack in nacks:
        native_error(
            await api.post("/v1/groups/billing/nack", headers=writer, json=nack),
            400,
            "INVALID_ARGUMENT",
        )
    for call in (
        api.get("/v1/groups/billing", headers=stranger),
        api.post(fetch, headers=stranger, json={"consumer": "a"}),
        api.post("/v1/groups/billing/ack", headers=stranger, json={"sequences": [1]}),
        api.get("/v1/groups/billing/parked", headers=stranger),
    ):
        native_error(await call, 404, "NOT_FOUND")
    assert (await api.get("/v1/groups", headers=stranger)).json() == {"groups": []}
