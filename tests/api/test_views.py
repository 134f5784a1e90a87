"""Views and failed events over HTTP: ZITADEL Admin (seed 000, ``views/_search``, remove)
and the native API (list, page, retry, remove, reset, pause, resume)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronik.records import Event, NewEvent
from chronik.services import Chronik
from chronik.views import Backoff, Registry, Rows, View, ViewRunner
from tests.api.helpers import Headers, surface_error

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


class SmtpDown(Exception):
    error_id = "EXAMP-ID3ER"


@pytest.fixture
async def failing(chronik: Chronik, tenant: str) -> dict[str, Any]:
    """``iam_members`` (database ``adminapi``) gave up on one event after 5 failures;
    ``user_counts`` processed everything."""
    poisoned: set[int] = set()

    async def members(event: Event, rows: Rows) -> None:
        if event.sequence in poisoned:
            raise SmtpDown("Example message")
        rows.put(event.aggregate_id, event.sequence)

    async def counts(event: Event, rows: Rows) -> None:
        rows.put("n", await rows.get("n", 0) + 1)

    registry = chronik.views.registry
    registry.add(
        View(
            name="iam_members",
            database="adminapi",
            handler=members,
            max_failures=5,
            backoff=Backoff(first=0, factor=1, longest=0),
        )
    )
    registry.add(View(name="user_counts", handler=counts))
    stored = await chronik.events.append(
        tenant,
        [
            NewEvent(aggregate_type="user", aggregate_id=f"u{i}", type="user.added")
            for i in range(3)
        ],
    )
    poisoned.add(stored[1].sequence)
    runner = ViewRunner(chronik.db, registry, owner="test")
    for view in registry:
        for _ in range(6):
            await runner.catch_up(view, tenant)
    await runner.release()
    return {"sequence": stored[1].sequence, "head": stored[-1].sequence, "poisoned": poisoned}


async def test_list_failed_events_answers_as_seed_000(
    api: httpx.AsyncClient, owner: Headers, failing: dict[str, Any]
) -> None:
    response = await api.post("/admin/v1/failedevents/_search", headers=owner, json={})
    assert response.status_code == 200
    [failed] = response.json()["result"]
    assert set(failed) == {
        "database",
        "viewName",
        "failedSequence",
        "failureCount",
        "errorMessage",
        "lastFailed",
    }
    assert failed["database"] == "adminapi" and failed["viewName"] == "iam_members"
    assert failed["failedSequence"] == str(failing["sequence"])
    assert failed["failureCount"] == "5"
    assert failed["errorMessage"] == "ID=EXAMP-ID3ER Message=Example message"
    assert RFC3339_UTC.fullmatch(failed["lastFailed"])


async def test_list_views_gives_position_and_times(
    api: httpx.AsyncClient, viewer: Headers, failing: dict[str, Any]
) -> None:
    response = await api.post("/admin/v1/views/_search", headers=viewer)
    assert response.status_code == 200
    views = {v["viewName"]: v for v in response.json()["result"]}
    assert set(views) == {"iam_members", "user_counts", "actions", "actions.post_append"}
    members = views["iam_members"]
    assert members["database"] == "adminapi"
    assert members["processedSequence"] == str(failing["head"])
    assert RFC3339_UTC.fullmatch(members["eventTimestamp"])
    assert RFC3339_UTC.fullmatch(members["lastSuccessfulSpoolerRun"])


async def test_remove_failed_event_then_it_is_gone(
    api: httpx.AsyncClient, owner: Headers, failing: dict[str, Any]
) -> None:
    path = f"/admin/v1/failedevents/adminapi/iam_members/{failing['sequence']}"
    assert (await api.delete(path, headers=owner)).json() == {}
    search = await api.post("/admin/v1/failedevents/_search", headers=owner)
    assert search.json() == {}
    # As ZITADEL (its DELETE checks no row count): removing it again succeeds, changing nothing.
    again = await api.delete(path, headers=owner)
    assert (again.status_code, again.json()) == (200, {})


async def test_remove_needs_the_records_database_and_a_write_permission(
    api: httpx.AsyncClient, owner: Headers, viewer: Headers, failing: dict[str, Any]
) -> None:
    sequence = failing["sequence"]
    other_database = f"/admin/v1/failedevents/otherdb/iam_members/{sequence}"
    assert (await api.delete(other_database, headers=owner)).json() == {}
    surface_error(
        "zitadel",
        await api.delete(f"/admin/v1/failedevents/adminapi/iam_members/{sequence}", headers=viewer),
        403,
    )
    surface_error(
        "zitadel",
        await api.delete("/admin/v1/failedevents/adminapi/iam_members/not-a-number", headers=owner),
        400,
    )
    assert (
        len((await api.post("/admin/v1/failedevents/_search", headers=owner)).json()["result"]) == 1
    )


async def test_views_of_another_tenant_stay_invisible(
    api: httpx.AsyncClient,
    owner: Headers,
    stranger: Headers,
    reader: Headers,
    failing: dict[str, Any],
) -> None:
    sequence = failing["sequence"]
    assert (await api.post("/admin/v1/failedevents/_search", headers=stranger)).json() == {}
    views = (await api.post("/admin/v1/views/_search", headers=stranger)).json()["result"]
    assert not [v for v in views if "processedSequence" in v], "none processed: 0, left out"
    theirs = f"/admin/v1/failedevents/adminapi/iam_members/{sequence}"
    assert (await api.delete(theirs, headers=stranger)).json() == {}, "nothing there to remove"
    surface_error(
        "native",
        await api.post(f"/v1/views/iam_members/failed-events/{sequence}/_retry", headers=stranger),
        404,
    )
    surface_error(
        "native",
        await api.delete(f"/v1/views/iam_members/failed-events/{sequence}", headers=stranger),
        404,
    )
    surface_error("zitadel", await api.post("/admin/v1/failedevents/_search", headers=reader), 403)
    surface_error("zitadel", await api.post("/admin/v1/views/_search"), 401)
    assert (
        len((await api.post("/admin/v1/failedevents/_search", headers=owner)).json()["result"]) == 1
    )


async def test_native_lists_pages_and_filters_failed_events(
    api: httpx.AsyncClient, owner: Headers, failing: dict[str, Any]
) -> None:
    response = await api.get("/v1/failed-events", headers=owner, params={"pageSize": 1})
    assert response.status_code == 200
    body = response.json()
    [failed] = body["failedEvents"]
    assert failed["view"] == "iam_members" and failed["failureCount"] == 5
    assert failed["sequence"] == str(failing["sequence"]) and "retryAt" not in failed
    after = await api.get(
        "/v1/failed-events",
        headers=owner,
        params={"pageSize": 1, "pagingToken": body["pagingToken"]},
    )
    assert after.json() == {"failedEvents": []}
    none = await api.get("/v1/failed-events", headers=owner, params={"minFailures": 6})
    assert none.json() == {"failedEvents": []}
    other = await api.get("/v1/failed-events", headers=owner, params={"view": "user_counts"})
    assert other.json() == {"failedEvents": []}
    for bad in ({"pagingToken": "garbage!"}, {"pageSize": 0}, {"minFailures": -1}):
        surface_error("native", await api.get("/v1/failed-events", headers=owner, params=bad), 400)


async def test_native_lists_views_with_lag(
    api: httpx.AsyncClient, owner: Headers, failing: dict[str, Any]
) -> None:
    views = {v["name"]: v for v in (await api.get("/v1/views", headers=owner)).json()["views"]}
    assert views["iam_members"]["failedEvents"] == 1
    assert views["iam_members"]["lag"] == "0" and views["iam_members"]["registered"] is True
    assert views["user_counts"]["database"] == "chronik"


async def test_native_views_are_running_only_while_a_nodes_lease_is_live(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    now = datetime.now(UTC)
    [running, idle, *_] = chronik.views.registry
    await chronik.db.views.claim(
        running.name, running.database, tenant, "node-a", now, now + timedelta(hours=1)
    )
    await chronik.db.views.claim(idle.name, idle.database, tenant, "node-b", now, now)
    views = {v["name"]: v for v in (await api.get("/v1/views", headers=owner)).json()["views"]}
    assert (views[running.name]["state"], views[running.name]["node"]) == ("running", "node-a")
    assert views[idle.name]["state"] == "idle" and "node" not in views[idle.name]


async def test_native_retry_runs_the_event_again(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str, failing: dict[str, Any]
) -> None:
    sequence = failing["sequence"]
    failing["poisoned"].clear()
    response = await api.post(
        f"/v1/views/iam_members/failed-events/{sequence}/_retry", headers=owner
    )
    assert response.status_code == 202 and response.json() == {"scheduled": 1}
    runner = ViewRunner(chronik.db, chronik.views.registry, owner="test")
    await runner.catch_up(chronik.views.registry.get("iam_members"), tenant)
    assert (await api.get("/v1/failed-events", headers=owner)).json() == {"failedEvents": []}
    assert await Rows(chronik.db.views, "iam_members", tenant).get("u1") == sequence
    surface_error("native", await api.post("/v1/views/iam_members/_retry", headers=owner), 404)


async def test_native_remove_reset_pause_resume(
    api: httpx.AsyncClient, owner: Headers, viewer: Headers, failing: dict[str, Any]
) -> None:
    sequence = failing["sequence"]
    surface_error("native", await api.post("/v1/views/iam_members/_pause", headers=viewer), 403)
    paused = await api.post("/v1/views/iam_members/_pause", headers=owner)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    resumed = await api.post("/v1/views/iam_members/_resume", headers=owner)
    assert resumed.json()["paused"] is False
    removed = await api.delete(f"/v1/views/iam_members/failed-events/{sequence}", headers=owner)
    assert removed.status_code == 200 and removed.json()["sequence"] == str(sequence)
    reset = await api.post("/v1/views/user_counts/_reset", headers=owner)
    assert reset.status_code == 200 and reset.json()["position"] == "0"
    surface_error("native", await api.post("/v1/views/no_such_view/_reset", headers=owner), 404)
    surface_error("native", await api.post("/v1/views/no_such_view/_pause", headers=owner), 404)
    surface_error(
        "native", await api.delete("/v1/views/iam_members/failed-events/0", headers=owner), 400
    )


async def test_native_pause_resume_reset_a_view_another_process_runs(
    api: httpx.AsyncClient,
    chronik: Chronik,
    tenant: str,
    owner: Headers,
    stranger: Headers,
) -> None:
    async def counts(event: Event, rows: Rows) -> None:
        rows.put("n", await rows.get("n", 0) + 1)

    registry = Registry()  # another process's: this one never registers "elsewhere"
    view = registry.add(View(name="elsewhere", database="other", handler=counts))
    await chronik.events.append(tenant, [NewEvent(aggregate_type="a", aggregate_id="1", type="t")])
    await ViewRunner(chronik.db, registry, owner="other-node").catch_up(view, tenant)

    paused = await api.post("/v1/views/elsewhere/_pause", headers=owner)
    assert paused.status_code == 200, paused.text
    assert (paused.json()["paused"], paused.json()["registered"]) == (True, False)
    resumed = await api.post("/v1/views/elsewhere/_resume", headers=owner)
    assert resumed.json()["paused"] is False
    reset = await api.post("/v1/views/elsewhere/_reset", headers=owner)
    assert (reset.json()["position"], reset.json()["database"]) == ("0", "other")
    for action in ("_pause", "_resume", "_reset"):
        response = await api.post(f"/v1/views/elsewhere/{action}", headers=stranger)
        surface_error("native", response, 404, action)


async def test_metrics_show_each_running_views_position_lag_and_failures(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str
) -> None:
    async def picky(event: Event, rows: Rows) -> None:
        if event.aggregate_id == "bad":
            raise ValueError("not this one")

    chronik.views.registry.add(View(name="picky", handler=picky, max_failures=1))
    runner = chronik.start_views()
    stored = await chronik.events.append(
        tenant,
        [NewEvent(aggregate_type="user", aggregate_id=i, type="user.added") for i in ("a", "bad")],
    )
    head = stored[-1].sequence
    for _ in range(200):
        stats = runner.stats["picky"]
        if stats.positions.get(tenant) == head and stats.failed.get(tenant) == 1:
            break
        await asyncio.sleep(0.02)
    text = (await api.get("/metrics")).text
    labels = f'tenant="{tenant}",view="picky"'
    assert f"chronik_view_position{{{labels}}} {float(head)}" in text
    assert f"chronik_view_lag_events{{{labels}}} 0.0" in text
    assert f"chronik_view_failed_events{{{labels}}} 1.0" in text
    assert 'chronik_view_events_handled_total{view="picky"} 1.0' in text
    assert 'chronik_view_failures_total{view="picky"} 1.0' in text
