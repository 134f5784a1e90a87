"""Rows of the schedule tables as records and back, for both backends (which differ in
how a time is stored: micros on SQLite, ``timestamptz`` on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from chronik.errors import AlreadyExists
from chronik.records import FailedJob, Schedule, TimeRule

Time = Callable[[Any], datetime]

_decode_rule = msgspec.json.Decoder(TimeRule).decode
_decode_payload = msgspec.json.Decoder(dict[str, Any]).decode
encode = msgspec.json.Encoder().encode


def _maybe(time: Time, value: Any) -> datetime | None:
    return None if value is None else time(value)


def schedule(tenant_id: str, r: Any, time: Time) -> Schedule:
    """A row of the columns of ``schedule_get`` (``tenant_key`` first)."""
    return Schedule(
        tenant_id=tenant_id,
        group=r[1],
        name=r[2],
        policy_locator=r[3],
        transaction_locator=r[4],
        aggregate_type=r[5],
        event_type=r[6],
        payload=_decode_payload(r[7]) if isinstance(r[7], str | bytes) else r[7],
        rule=_decode_rule(r[8]),
        misfire=r[9],
        next_fire_at=_maybe(time, r[10]),
        fired=r[11],
        missed=r[12],
        paused=bool(r[13]),
        error=bool(r[14]),
        owner=r[15],
        lease_until=_maybe(time, r[16]),
        created_at=time(r[17]),
        updated_at=time(r[18]),
    )


def failed_job(tenant_id: str, r: Any, time: Time) -> FailedJob:
    """A row of the columns of ``failed_job_list``."""
    return FailedJob(
        tenant_id=tenant_id,
        group=r[1],
        name=r[2],
        failure_count=r[3],
        state=r[4],
        error=r[5],
        created_at=time(r[6]),
        updated_at=time(r[7]),
        policy_locator=r[8],
    )


def with_failed_job(tenant_id: str, r: Any, time: Time) -> tuple[Schedule, FailedJob | None]:
    """A row of ``schedule_export``: the columns of ``schedule_get``, then those of the
    schedule's failed job (NULL when it has none)."""
    s = schedule(tenant_id, r, time)
    if r[19] is None:
        return s, None
    job = FailedJob(
        tenant_id=tenant_id,
        group=s.group,
        name=s.name,
        failure_count=r[19],
        state=r[20],
        error=r[21],
        created_at=time(r[22]),
        updated_at=time(r[23]),
        policy_locator=s.policy_locator,
    )
    return s, job


def definition(s: Schedule, tenant_key: int, now: Any, next_fire_at: Any) -> dict[str, Any]:
    """The parameters of ``schedule_insert`` and ``schedule_replace``."""
    return {
        "tenant": tenant_key,
        "grp": s.group,
        "name": s.name,
        "policy": s.policy_locator,
        "transaction": s.transaction_locator,
        "aggregate_type": s.aggregate_type,
        "event_type": s.event_type,
        "payload": encode(s.payload).decode(),
        "rule": encode(s.rule).decode(),
        "misfire": s.misfire,
        "next": next_fire_at,
        "paused": s.paused,
        "now": now,
    }


def restored(s: Schedule, tenant_key: int, at: Callable[[datetime], Any]) -> dict[str, Any]:
    """The parameters of ``schedule_restore``: the definition with its state as given."""
    created, updated = s.created_at, s.updated_at
    assert created is not None and updated is not None, "the service stamps a restore"
    return {
        **definition(
            s, tenant_key, at(updated), None if s.next_fire_at is None else at(s.next_fire_at)
        ),
        "fired": s.fired,
        "missed": s.missed,
        "error": s.error,
        "created": at(created),
    }


def restored_job(job: FailedJob, tenant_key: int, at: Callable[[datetime], Any]) -> dict[str, Any]:
    """The parameters of ``failed_job_restore``."""
    return {
        "tenant": tenant_key,
        "grp": job.group,
        "name": job.name,
        "count": job.failure_count,
        "state": job.state,
        "error": job.error,
        "created": at(job.created_at),
        "updated": at(job.updated_at),
    }


def taken(s: Schedule) -> AlreadyExists:
    return AlreadyExists(
        f"a schedule {s.group}/{s.name} already exists", group=s.group, name=s.name
    )
