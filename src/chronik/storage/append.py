"""Decisions both backends make the same way while committing a group of appends."""

from __future__ import annotations

from datetime import datetime

from chronik.errors import Conflict
from chronik.records import EXISTS, Event, PendingAppend, PreparedEvent


def check_expected(append: PendingAppend, versions: dict[tuple[str, str], int]) -> None:
    """Refuse the append when an aggregate is not at the version its caller expected."""
    for aggregate, expected in append.expected.items():
        current = versions[aggregate]
        if current != expected and (expected != EXISTS or current == 0):
            raise version_conflict(aggregate, expected, current)


def version_conflict(aggregate: tuple[str, str], expected: int, current: int) -> Conflict:
    name = f"aggregate {aggregate[0]}/{aggregate[1]}"
    if expected == EXISTS:
        message = f"{name} does not exist; the append expected it to"
    else:
        message = f"{name} is at version {current}, not the expected {expected}"
    return Conflict(
        message,
        aggregate_type=aggregate[0],
        aggregate_id=aggregate[1],
        expected_version="exists" if expected == EXISTS else expected,
        current_version=current,
    )


def stored(
    append: PendingAppend, e: PreparedEvent, sequence: int, version: int, created_at: datetime
) -> Event:
    """The event as it will read back once the group commits (built positionally: with
    all seventeen fields named, msgspec takes several times as long)."""
    return Event(
        sequence,
        e.locator,
        append.tenant_id,
        e.aggregate_type,
        e.aggregate_id,
        version,
        e.resource_owner,
        e.type,
        e.revision,
        e.payload,
        append.editor.user_id,
        append.editor.service,
        append.request_id,
        created_at,
        e.correlation_id,
        e.causation_id,
        e.metadata,
    )


LOCATOR_TAKEN = "some event locators of this append are already used by other events"
