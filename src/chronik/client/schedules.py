"""Schedules over HTTP (``/v1/schedules``), as :class:`~chronik.schedules.Schedules` offers
them: the same calls, arguments and records (:class:`~chronik.records.Schedule`,
:class:`~chronik.records.FailedJob`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chronik.client.wire import time
from chronik.records import FailedJob, Schedule, TimeRule

if TYPE_CHECKING:
    from chronik.client.core import AsyncClient

MAX_PAGE = 1000
"""The most schedules the server lists at once."""


class RemoteSchedules:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, schedule: Schedule) -> Schedule:
        """Store a new schedule; :class:`~chronik.errors.AlreadyExists` when its (group,
        name) is taken."""
        await self._client.check_tenant(schedule.tenant_id)
        body = {"name": schedule.name, "group": schedule.group, **_definition(schedule)}
        found = await self._client.call("POST", "/v1/schedules", json=body, safe=False)
        return _schedule(schedule.tenant_id, found)

    async def replace(self, schedule: Schedule) -> Schedule:
        """A new definition for an existing schedule: its fire times start over."""
        await self._client.check_tenant(schedule.tenant_id)
        path = _path(schedule.group, schedule.name)
        found = await self._client.call("PUT", path, json=_definition(schedule), safe=True)
        return _schedule(schedule.tenant_id, found)

    async def get(self, tenant_id: str, group: str, name: str) -> Schedule:
        await self._client.check_tenant(tenant_id)
        return _schedule(tenant_id, await self._client.call("GET", _path(group, name), safe=True))

    async def find(
        self,
        tenant_id: str,
        *,
        group: str | None = None,
        policy_locator: str | None = None,
        offset: int = 0,
        count: int = 100,
    ) -> list[Schedule]:
        await self._client.check_tenant(tenant_id)
        params = _filters(offset, count, group=group, policyLocator=policy_locator)
        found = await self._client.call("GET", "/v1/schedules", params=params, safe=True)
        return [_schedule(tenant_id, s) for s in found["schedules"]]

    async def find_all(
        self, tenant_id: str, *, group: str | None = None, policy_locator: str | None = None
    ) -> list[Schedule]:
        """Every schedule (of ``group``, of the policy), page by page."""
        found: list[Schedule] = []
        while page := await self.find(
            tenant_id, group=group, policy_locator=policy_locator, offset=len(found), count=MAX_PAGE
        ):
            found += page
            if len(page) < MAX_PAGE:
                break
        return found

    async def pause(self, tenant_id: str, group: str, name: str) -> Schedule:
        return await self._control(tenant_id, group, name, "pause")

    async def resume(self, tenant_id: str, group: str, name: str) -> Schedule:
        """Back from a pause; a fire time missed meanwhile follows the misfire policy."""
        return await self._control(tenant_id, group, name, "resume")

    async def _control(self, tenant_id: str, group: str, name: str, action: str) -> Schedule:
        await self._client.check_tenant(tenant_id)
        path = f"{_path(group, name)}/_{action}"
        return _schedule(tenant_id, await self._client.call("POST", path, safe=True))

    async def delete(self, tenant_id: str, group: str, name: str) -> None:
        """Delete a schedule and its failed job."""
        await self._client.check_tenant(tenant_id)
        await self._client.call("DELETE", _path(group, name), safe=False)

    async def failed_jobs(
        self,
        tenant_id: str,
        *,
        policy_locator: str | None = None,
        state: str | None = None,
        offset: int = 0,
        count: int = 100,
    ) -> list[FailedJob]:
        """Failed firings with their last error (``state``: ``queued`` or ``quit``). The
        native API filters no group: the embedded ``group=`` is not offered."""
        await self._client.check_tenant(tenant_id)
        params = _filters(offset, count, state=state, policyLocator=policy_locator)
        path = "/v1/schedules/failed-jobs"
        found = await self._client.call("GET", path, params=params, safe=True)
        return [_failed_job(tenant_id, j) for j in found["failedJobs"]]

    async def resume_failed(self, tenant_id: str, group: str, name: str) -> None:
        """Back to NORMAL and due now; the failed job goes when that firing succeeds."""
        await self._client.check_tenant(tenant_id)
        path = f"{_path(group, name)}/failed-job/_resume"
        await self._client.call("POST", path, safe=True)

    async def delete_failed(self, tenant_id: str, group: str, name: str) -> None:
        """Forget the failed job; the schedule stays as it is."""
        await self._client.check_tenant(tenant_id)
        await self._client.call("DELETE", f"{_path(group, name)}/failed-job", safe=False)


def _path(group: str, name: str) -> str:
    return f"/v1/schedules/{quote(group, safe='')}/{quote(name, safe='')}"


def _filters(offset: int, count: int, **given: str | None) -> dict[str, Any]:
    return {"offset": offset, "count": count} | {k: v for k, v in given.items() if v is not None}


def _definition(s: Schedule) -> dict[str, Any]:
    """What a create or replace sends; what the server keeps of its own (state, counts,
    times) is not sent."""
    r = s.rule
    rule: dict[str, Any] = {"kind": r.kind, "timeZone": r.time_zone}
    for key, value in (
        ("at", r.at.isoformat() if r.at else None),
        ("everySeconds", r.every_seconds),
        ("cron", r.cron),
        ("repeatLimit", r.repeat_limit),
    ):
        if value is not None:
            rule[key] = value
    body: dict[str, Any] = {
        "eventType": s.event_type,
        "rule": rule,
        "payload": s.payload,
        "aggregateType": s.aggregate_type,
        "misfire": s.misfire,
        "paused": s.paused,
    }
    for key, value in (
        ("policyLocator", s.policy_locator),
        ("transactionLocator", s.transaction_locator),
    ):
        if value is not None:
            body[key] = value
    return body


def _schedule(tenant_id: str, d: dict[str, Any]) -> Schedule:
    """A schedule as the server shows it. Its state is the server's: ``PAUSED`` and
    ``ERROR`` are kept as ``paused`` and ``error``; the claim of a node firing it
    (``BLOCKED``) is not in the answer, so :meth:`Schedule.state` says ``NORMAL`` there."""
    r = d["rule"]
    state = d["state"]
    return Schedule(
        tenant_id=tenant_id,
        name=d["name"],
        group=d["group"],
        event_type=d["eventType"],
        payload=d["payload"],
        policy_locator=d.get("policyLocator"),
        transaction_locator=d.get("transactionLocator"),
        aggregate_type=d["aggregateType"],
        rule=TimeRule(
            kind=r["kind"],
            at=time(r["at"]) if r.get("at") else None,
            every_seconds=r.get("everySeconds"),
            cron=r.get("cron"),
            time_zone=r["timeZone"],
            repeat_limit=r.get("repeatLimit"),
        ),
        misfire=d["misfire"],
        next_fire_at=time(d["nextFireTime"]) if d.get("nextFireTime") else None,
        fired=d["fired"],
        missed=d["missed"],
        paused=state == "PAUSED",
        error=state == "ERROR",
        created_at=time(d["createdAt"]) if d.get("createdAt") else None,
        updated_at=time(d["updatedAt"]) if d.get("updatedAt") else None,
    )


def _failed_job(tenant_id: str, d: dict[str, Any]) -> FailedJob:
    return FailedJob(
        tenant_id=tenant_id,
        name=d["name"],
        group=d["group"],
        failure_count=d["failureCount"],
        state=d["state"],
        error=d["error"],
        created_at=time(d["createdAt"]),
        updated_at=time(d["updatedAt"]),
        policy_locator=d.get("policyLocator"),
    )
