"""Rows of the view tables as records, for both backends (which differ only in how a
time comes back: micros on SQLite, ``datetime`` on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chronik.records import FailedEvent, ViewState

Time = Callable[[Any], datetime]


def _maybe(time: Time, value: Any) -> datetime | None:
    return None if value is None else time(value)


def view_state(tenant_id: str, r: Any, time: Time) -> ViewState:
    """A row of ``view, tenant_key, database, position, event_at, last_run, generation,
    paused, owner, lease_until``."""
    return ViewState(
        view=r[0],
        tenant_id=tenant_id,
        database=r[2],
        position=r[3],
        event_at=_maybe(time, r[4]),
        last_run=_maybe(time, r[5]),
        generation=r[6],
        paused=bool(r[7]),
        owner=r[8],
        lease_until=_maybe(time, r[9]),
    )


def failed_event(tenant_id: str, r: Any, time: Time) -> FailedEvent:
    """A row of ``view, tenant_key, database, sequence, failure_count, error, first_failed,
    last_failed, retry_at``."""
    return FailedEvent(
        view=r[0],
        tenant_id=tenant_id,
        database=r[2],
        sequence=r[3],
        failure_count=r[4],
        error=r[5],
        first_failed=time(r[6]),
        last_failed=time(r[7]),
        retry_at=_maybe(time, r[8]),
    )
