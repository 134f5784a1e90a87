"""The action list: a view of the ``action`` and ``flow`` aggregates, one row per action and
one per flow of an organisation. Searches, the flows' triggers and the runs read it."""

from __future__ import annotations

from typing import Any

import msgspec

from chronik.actions.model import (
    ACTION,
    FLOW,
    FLOW_CLEARED,
    FLOW_TYPES,
    REMOVED,
    TRIGGER_SET,
    Action,
    Binding,
    Flow,
    applied,
)
from chronik.records import Event
from chronik.views import Rows, View

VIEW = "actions"


def action_key(organisation_id: str, action_id: str) -> str:
    return f"action:{organisation_id}:{action_id}"


def flow_key(organisation_id: str, flow_type: str) -> str:
    return f"flow:{organisation_id}:{flow_type}"


def as_action(value: Any) -> Action | None:
    return None if value is None else msgspec.convert(value, Action, strict=False)


def as_flow(value: Any) -> Flow | None:
    return None if value is None else msgspec.convert(value, Flow, strict=False)


stored_action = msgspec.json.Decoder(Action).decode
"""An action's row as the view stored it (read outside the view: one parse, typed)."""
stored_flow = msgspec.json.Decoder(Flow).decode


async def _on_action(event: Event, rows: Rows) -> None:
    key = action_key(event.resource_owner, event.aggregate_id)
    action = applied(as_action(await rows.get(key)), event)
    if action is not None:
        rows.put(key, msgspec.to_builtins(action))
        return
    rows.delete(key)
    if event.type == REMOVED:
        # A removed action leaves every trigger it was bound to.
        for flow_type in FLOW_TYPES:
            fkey = flow_key(event.resource_owner, flow_type.id)
            flow = as_flow(await rows.get(fkey))
            if flow is None:
                continue
            triggers = {}
            for name, b in flow.triggers.items():
                ids = tuple(i for i in b.action_ids if i != event.aggregate_id)
                if ids:
                    triggers[name] = msgspec.structs.replace(b, action_ids=ids)
            if triggers != flow.triggers:
                changed = msgspec.structs.replace(
                    flow, triggers=triggers, sequence=event.sequence, changed_at=event.created_at
                )
                rows.put(fkey, msgspec.to_builtins(changed))


async def _on_flow(event: Event, rows: Rows) -> None:
    p = event.payload
    key = flow_key(event.resource_owner, p["flowType"])
    flow = as_flow(await rows.get(key)) or Flow(
        flow_type=p["flowType"], organisation_id=event.resource_owner
    )
    triggers = dict(flow.triggers)
    if event.type == FLOW_CLEARED:
        triggers.clear()
    elif event.type == TRIGGER_SET:
        binding = Binding(
            trigger_type=p["triggerType"],
            action_ids=tuple(p["actionIds"]),
            event_types=tuple(p.get("eventTypes", ())),
            aggregate_types=tuple(p.get("aggregateTypes", ())),
        )
        if binding.action_ids:
            triggers[binding.trigger_type] = binding
        else:
            triggers.pop(binding.trigger_type, None)
    changed = msgspec.structs.replace(
        flow, triggers=triggers, sequence=event.sequence, changed_at=event.created_at
    )
    rows.put(key, msgspec.to_builtins(changed))


async def handle(event: Event, rows: Rows) -> None:
    if event.aggregate_type == ACTION:
        await _on_action(event, rows)
    elif event.aggregate_type == FLOW:
        await _on_flow(event, rows)


def view() -> View:
    """A new :class:`View` of the action list (one per Chronik: registries are not shared)."""
    return View(
        name=VIEW,
        handler=handle,
        aggregate_types=(ACTION, FLOW),
        on_exhausted="stop",
        on_commit=False,  # its writers wake it; other nodes' changes arrive on the poll
    )
