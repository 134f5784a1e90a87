"""Rows of ``action_runs`` as records, for both backends (which differ in how a time and
the log lines come back)."""

from __future__ import annotations

from typing import Any

import msgspec

from chronik.records import ActionRun
from chronik.storage.views import Time

_decode_logs = msgspec.json.Decoder(list[tuple[str, str]]).decode
_encode = msgspec.json.encode


def logs_json(run: ActionRun) -> str:
    return _encode(run.logs).decode()


def run_params(tenant_key: int, r: ActionRun, started_at: Any) -> tuple[Any, ...]:
    """The parameters of ``action_run_insert``."""
    return (
        tenant_key,
        r.id,
        r.organisation_id,
        r.action_id,
        r.action_name,
        r.flow_type,
        r.trigger_type,
        r.outcome,
        started_at,
        r.duration,
        r.error,
        r.event_sequence,
        r.event_locator,
        r.event_type,
        r.firing,
        logs_json(r),
        r.logs_dropped,
    )


def action_run(tenant_id: str, r: Any, time: Time) -> ActionRun:
    """A row of the ``action_runs`` query."""
    return ActionRun(
        id=r[0],
        tenant_id=tenant_id,
        organisation_id=r[1],
        action_id=r[2],
        action_name=r[3],
        flow_type=r[4],
        trigger_type=r[5],
        outcome=r[6],
        started_at=time(r[7]),
        duration=r[8],
        error=r[9],
        event_sequence=r[10],
        event_locator=r[11],
        event_type=r[12],
        firing=r[13],
        logs=tuple(_decode_logs(r[14])),
        logs_dropped=r[15],
    )
