"""The action list: a view of the ``chronik.action`` and ``chronik.flow`` aggregates, one row
per action and one per flow of an organisation. Searches, the flows' triggers and the runs
read it."""

from __future__ import annotations

from typing import Any

import msgspec

from chronik.actions.model import (
    ACTION,
    FLOW,
    FLOW_TYPES,
    REMOVED,
    Action,
    Binding,
    ClearedFields,
    Flow,
    TriggerFields,
    applied,
    parsed,
)
from chronik.errors import InvalidArgument
from chronik.records import Event
from chronik.views import Rows, Unprocessable, View

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
    fields = parsed(event)
    assert isinstance(fields, TriggerFields | ClearedFields)
    key = flow_key(event.resource_owner, fields.flow_type)
    flow = as_flow(await rows.get(key)) or Flow(
        flow_type=fields.flow_type, organisation_id=event.resource_owner
    )
    triggers = dict(flow.triggers)
    if isinstance(fields, ClearedFields):
        triggers.clear()
    else:
        binding = Binding(
            trigger_type=fields.trigger_type,
            action_ids=fields.action_ids,
            event_types=fields.event_types,
            aggregate_types=fields.aggregate_types,
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
    """A record that breaks the rules (however it reached the log) is a failed event of the
    view, with the rule it breaks; the view goes on past it."""
    try:
        if event.aggregate_type == ACTION:
            await _on_action(event, rows)
        elif event.aggregate_type == FLOW:
            await _on_flow(event, rows)
    except InvalidArgument as exc:
        raise Unprocessable(exc.message) from None


def view() -> View:
    """A new :class:`View` of the action list (one per Chronik: registries are not shared)."""
    return View(
        name=VIEW,
        handler=handle,
        aggregate_types=(ACTION, FLOW),
        on_exhausted="stop",  # a broken record is Unprocessable and passed; other failures wait
        on_commit=False,  # its writers wake it; other nodes' changes arrive on the poll
    )
