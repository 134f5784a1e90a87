"""Rows of the consumer-group tables as records, and what both backends decide alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from chronik.records import ConsumerGroup, GroupSettings
from chronik.storage.views import Time

DATABASE = "groups"
_decode = msgspec.json.Decoder(GroupSettings).decode


def encode(settings: GroupSettings) -> str:
    return msgspec.json.encode(settings).decode()


def group(tenant_id: str, r: Any, time: Time) -> ConsumerGroup:
    """A row of ``name, definition, created_at``."""
    return ConsumerGroup(
        tenant_id=tenant_id, name=r[0], settings=_decode(r[1]), created_at=time(r[2])
    )


def unacknowledged(group: ConsumerGroup) -> str:
    return f"not acknowledged within {group.settings.ack_timeout_seconds:g} s"


def failure(
    lender: ConsumerGroup,
    tenant: int,
    sequence: int,
    count: int,
    error: str,
    stamp: Callable[[datetime], Any],
    now: datetime,
    retry_at: datetime | None = None,
) -> dict[str, Any]:
    """The parameters of ``failed_upsert`` for an event of ``lender`` (times by ``stamp``,
    as the backend stores them)."""
    return {
        "view": lender.view,
        "tenant": tenant,
        "sequence": sequence,
        "database": DATABASE,
        "count": count,
        "error": error,
        "now": stamp(now),
        "retry_at": None if retry_at is None else stamp(retry_at),
    }
