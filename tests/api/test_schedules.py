"""Schedules over HTTP: Socotra's scheduled events and failed jobs (seed 002's shapes),
tenant-event scheduling, and the native ``/v1/schedules``; bad input and other tenants."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronik.records import NewEvent, Schedule
from chronik.schedules import Scheduler
from chronik.services import Chronik
from tests.api.helpers import Headers, surface_error

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def fire(chronik: Chronik, moment: datetime, broken: set[str] | None = None) -> int:
    """One scheduler round at ``moment``; the schedules named in ``broken`` fail."""

    async def hook(schedule: Schedule, event: NewEvent) -> NewEvent:
        if schedule.name in (broken or set()):
            raise RuntimeError("the flow refused it")
        return event

    scheduler = Scheduler(chronik.db, chronik.settings, clock=lambda: moment, hooks=[hook])
    return await scheduler.tick()


async def create(api: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/schedules", headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def policy_schedules(api: httpx.AsyncClient, owner: Headers) -> list[dict[str, Any]]:
    return [
        await create(
            api,
            owner,
            name=f"renewal-{i}",
            group="policy",
            eventType="policy.renewal.due",
            policyLocator="P-100",
            transactionLocator=f"T-{i}",
            rule={"kind": "once", "at": at(SOON + timedelta(minutes=i))},
        )
        for i in range(2)
    ]


async def test_a_policys_schedules_answer_as_seed_002(
    api: httpx.AsyncClient, owner: Headers, tenant: str, policy_schedules: list[dict[str, Any]]
) -> None:
    response = await api.get(f"/event/{tenant}/events/schedules/policy/P-100", headers=owner)
    assert response.status_code == 200
    shown = response.json()
    assert [set(s) for s in shown] == [
        {"policyLocator", "transactionLocator", "triggerState", "customEventId", "nextEventTime"}
    ] * 2
    assert shown[0]["policyLocator"] == "P-100" and shown[0]["transactionLocator"] == "T-0"
    assert shown[0]["triggerState"] == "NORMAL"
    assert shown[0]["customEventId"] == "policy.renewal.due"
    assert shown[0]["nextEventTime"] == at(SOON).replace("Z", ".000000Z")
    other = await api.get(f"/event/{tenant}/events/schedules/policy/P-404", headers=owner)
    assert other.json() == []


async def test_a_failing_firing_shows_in_every_failed_list_and_resumes(
    api: httpx.AsyncClient,
    owner: Headers,
    chronik: Chronik,
    tenant: str,
    policy_schedules: list[dict[str, Any]],
) -> None:
    await fire(chronik, SOON, broken={"renewal-0"})
    base = f"/event/{tenant}/events/schedules"
    [job] = (await api.get(f"{base}/failed/list", headers=owner)).json()
    assert set(job) == {
        "triggerName",
        "failedJobState",
        "failureCount",
        "triggerGroup",
        "updatedAt",
        "createdAt",
    }
    assert (job["triggerName"], job["triggerGroup"]) == ("renewal-0", "policy")
    assert (job["failedJobState"], job["failureCount"]) == ("queued", 1)
    assert RFC3339_UTC.fullmatch(job["createdAt"]) and RFC3339_UTC.fullmatch(job["updatedAt"])
    assert (await api.get(f"{base}/failed/queued/list", headers=owner)).json() == [job]
    assert (await api.get(f"{base}/failed/quit/list", headers=owner)).json() == []
    assert (await api.get(f"{base}/policy/P-100/failed/list", headers=owner)).json() == [job]
    assert (await api.get(f"{base}/tenant/failed/list", headers=owner)).json() == []
    paged = await api.get(f"{base}/failed/list", headers=owner, params={"offset": 1, "count": 5})
    assert paged.json() == []
    native = (await api.get("/v1/schedules/failed-jobs", headers=owner)).json()
    assert native["failedJobs"][0]["error"] == "the flow refused it"

    resumed = await api.post(
        f"{base}/failed/resume",
        headers=owner,
        json={"triggerName": "renewal-0", "triggerGroup": "policy"},
    )
    assert resumed.status_code == 204 and resumed.content == b""
    await fire(chronik, datetime.now(UTC) + timedelta(seconds=1))
    assert (await api.get(f"{base}/failed/list", headers=owner)).json() == []
    [event] = (await api.get(f"/event/{tenant}/events/list", headers=owner)).json()["events"]
    assert event["type"] == "policy.renewal.due"


async def test_delete_removes_only_the_failed_job(
    api: httpx.AsyncClient,
    owner: Headers,
    chronik: Chronik,
    tenant: str,
    policy_schedules: list[dict[str, Any]],
) -> None:
    await fire(chronik, SOON, broken={"renewal-0"})
    job = {"triggerName": "renewal-0", "triggerGroup": "policy"}
    base = f"/event/{tenant}/events/schedules"
    deleted = await api.request("DELETE", f"{base}/failed", headers=owner, json=job)
    assert deleted.status_code == 204
    assert (await api.get(f"{base}/failed/list", headers=owner)).json() == []
    schedule = (await api.get("/v1/schedules/policy/renewal-0", headers=owner)).json()
    assert schedule["state"] == "NORMAL" and schedule["nextFireTime"]
    again = await api.request("DELETE", f"{base}/failed", headers=owner, json=job)
    surface_error("socotra", again, 404)
    surface_error("socotra", await api.post(f"{base}/failed/resume", headers=owner, json=job), 404)


async def test_tenant_events_are_scheduled_and_listed(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    body = {
        "requests": [
            {
                "scheduleId": "close-month",
                "eventTypeId": "billing.close",
                "eventTime": at(SOON),
                "data": {"month": 11},
            },
        ]
    }
    response = await api.post(f"/config/{tenant}/tenantEvents", headers=owner, json=body)
    assert response.status_code == 200, response.text
    [created] = response.json()
    assert created["scheduleId"] == "close-month" and created["triggerState"] == "NORMAL"
    listed = (await api.get(f"/event/{tenant}/events/schedules/tenant", headers=owner)).json()
    assert listed == [created]
    surface_error(
        "socotra", await api.post(f"/config/{tenant}/tenantEvents", headers=owner, json=body), 409
    )
    await fire(chronik, SOON)
    [event] = (await api.get(f"/event/{tenant}/events/list", headers=owner)).json()["events"]
    assert (event["type"], event["data"]) == ("billing.close", {"month": 11})
    [done] = (await api.get(f"/event/{tenant}/events/schedules/tenant", headers=owner)).json()
    assert done["triggerState"] == "COMPLETE" and "nextEventTime" not in done


async def test_native_schedules_lifecycle(api: httpx.AsyncClient, owner: Headers) -> None:
    created = await create(
        api,
        owner,
        name="nightly",
        eventType="report.due",
        rule={"kind": "cron", "cron": "0 2 * * *", "timeZone": "Europe/Berlin"},
        payload={"report": "sales"},
    )
    assert created["group"] == "DEFAULT" and created["state"] == "NORMAL"
    assert created["rule"] == {"kind": "cron", "cron": "0 2 * * *", "timeZone": "Europe/Berlin"}
    assert created["aggregateType"] == "schedule"
    paused = await api.post("/v1/schedules/DEFAULT/nightly/_pause", headers=owner)
    assert paused.json()["state"] == "PAUSED"
    resumed = await api.post("/v1/schedules/DEFAULT/nightly/_resume", headers=owner)
    assert resumed.json()["state"] == "NORMAL"
    replaced = await api.put(
        "/v1/schedules/DEFAULT/nightly",
        headers=owner,
        json={"eventType": "report.due", "rule": {"kind": "interval", "everySeconds": 3600}},
    )
    assert replaced.status_code == 200 and replaced.json()["rule"]["everySeconds"] == 3600
    listed = (await api.get("/v1/schedules", headers=owner)).json()["schedules"]
    assert [s["name"] for s in listed] == ["nightly"]
    assert (await api.delete("/v1/schedules/DEFAULT/nightly", headers=owner)).status_code == 204
    surface_error("native", await api.get("/v1/schedules/DEFAULT/nightly", headers=owner), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "eventType": "t", "rule": {"kind": "cron", "cron": "99 * * * *"}},
        {"name": "x", "eventType": "t", "rule": {"kind": "interval", "everySeconds": 0}},
        {"name": "x", "eventType": "t", "rule": {"kind": "interval", "everySeconds": -1}},
        {
            "name": "x",
            "eventType": "t",
            "rule": {"kind": "cron", "cron": "* * * * *", "timeZone": "Nowhere/City"},
        },
        {"name": "x", "eventType": "t", "rule": {"kind": "hourly"}},
        {"name": "x", "eventType": "t", "rule": {"kind": "once"}},
        {"name": "x", "eventType": "t", "rule": {"kind": "once", "at": "9999-12-31T00:00:00Z"}},
        {"name": "x", "eventType": "t", "rule": {"kind": "once", "at": "not a time"}},
        {
            "name": "x",
            "eventType": "t",
            "misfire": "later",
            "rule": {"kind": "once", "at": "2030-01-01T00:00:00Z"},
        },
        {"name": "", "eventType": "t", "rule": {"kind": "once", "at": "2030-01-01T00:00:00Z"}},
        {
            "name": "x" * 201,
            "eventType": "t",
            "rule": {"kind": "once", "at": "2030-01-01T00:00:00Z"},
        },
        {
            "name": "x",
            "eventType": "t",
            "payload": [1],
            "rule": {"kind": "once", "at": "2030-01-01T00:00:00Z"},
        },
        {"name": "x", "rule": {"kind": "once", "at": "2030-01-01T00:00:00Z"}},
    ],
)
async def test_bad_schedules_are_refused_and_nothing_is_stored(
    api: httpx.AsyncClient, owner: Headers, body: dict[str, Any]
) -> None:
    surface_error("native", await api.post("/v1/schedules", headers=owner, json=body), 400, body)
    assert (await api.get("/v1/schedules", headers=owner)).json() == {"schedules": []}


async def test_bad_socotra_input_is_refused(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    base = f"/event/{tenant}/events/schedules"
    surface_error("socotra", await api.get(f"{base}/failed/lost/list", headers=owner), 400)
    for params in ({"offset": -1}, {"count": 0}, {"count": "many"}):
        surface_error(
            "socotra", await api.get(f"{base}/failed/list", headers=owner, params=params), 400
        )
    surface_error("socotra", await api.post(f"{base}/failed/resume", headers=owner, json={}), 400)
    surface_error("socotra", await api.post(f"{base}/failed/resume", headers=owner), 400)
    bodies: list[dict[str, Any]] = [
        {"requests": []},
        {"requests": [{"scheduleId": "a"}]},
        {"requests": "x"},
    ]
    for body in bodies:
        surface_error(
            "socotra",
            await api.post(f"/config/{tenant}/tenantEvents", headers=owner, json=body),
            400,
        )


async def test_other_tenants_and_weak_tokens_are_refused(
    api: httpx.AsyncClient,
    owner: Headers,
    stranger: Headers,
    reader: Headers,
    tenant: str,
    chronik: Chronik,
    policy_schedules: list[dict[str, Any]],
) -> None:
    await fire(chronik, SOON, broken={"renewal-0"})
    base = f"/event/{tenant}/events/schedules"
    job = {"triggerName": "renewal-0", "triggerGroup": "policy"}
    for response in (
        await api.get(f"{base}/policy/P-100", headers=stranger),
        await api.get(f"{base}/failed/list", headers=stranger),
        await api.post(f"{base}/failed/resume", headers=stranger, json=job),
        await api.request("DELETE", f"{base}/failed", headers=stranger, json=job),
        await api.post(f"/config/{tenant}/tenantEvents", headers=stranger, json={"requests": []}),
    ):
        surface_error("socotra", response, 404)
    assert (await api.get("/v1/schedules", headers=stranger)).json() == {"schedules": []}
    surface_error("native", await api.get("/v1/schedules/policy/renewal-0", headers=stranger), 404)
    surface_error("socotra", await api.post(f"{base}/failed/resume", headers=reader, json=job), 403)
    surface_error("socotra", await api.get(f"{base}/failed/list"), 401)
    assert len((await api.get(f"{base}/failed/list", headers=owner)).json()) == 1


async def test_the_running_scheduler_fires_and_counts_in_metrics(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    scheduler = chronik.start_scheduler()
    await create(
        api,
        owner,
        name="now",
        eventType="it.is.time",
        rule={"kind": "once", "at": at(datetime.now(UTC) - timedelta(seconds=1))},
    )
    for _ in range(200):
        if scheduler.stats.fired:
            break
        await asyncio.sleep(0.02)
    [event] = (await api.get(f"/event/{tenant}/events/list", headers=owner)).json()["events"]
    assert event["type"] == "it.is.time"
    text = (await api.get("/metrics")).text
    assert "chronik_schedule_firings_total 1.0" in text
    assert "chronik_schedule_failed_firings_total 0.0" in text


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/failed-events", {"view": "a\x00b"}),
        ("GET", "/v1/schedules", {"group": "a\x00"}),
        ("GET", "/v1/schedules/a%00/b", {}),
        ("GET", "/event/{tenant}/events/schedules/policy/a%00", {}),
        ("POST", "/v1/views/a%00b/_pause", {}),
    ],
)
async def test_a_nul_in_a_name_or_filter_is_refused_not_a_server_error(
    api: httpx.AsyncClient,
    owner: Headers,
    tenant: str,
    method: str,
    path: str,
    params: dict[str, str],
) -> None:
    """SQLite stores a NUL character, PostgreSQL cannot: never a 5xx either way."""
    response = await api.request(method, path.format(tenant=tenant), headers=owner, params=params)
    assert response.status_code in (200, 400, 404), response.text
    if response.status_code == 400:
        assert "NUL" in response.text
