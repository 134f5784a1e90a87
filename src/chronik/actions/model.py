"""What an action and a flow are, the rules their fields follow, and the events that record
them. An action is an aggregate of the log (``action``/its id); a flow is one too
(``flow``/``organisation/flow type``); a name is held by an ``action_name`` aggregate so
that two actions of one organisation never share it."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec

from chronik.errors import InvalidArgument

ACTION = "action"
ACTION_NAME = "action_name"
FLOW = "flow"
SYSTEM_AGGREGATES = (ACTION, ACTION_NAME, FLOW)
"""Aggregates no flow runs on: an action must never stand between an operator and the
events that would repair it."""

ADDED = "action.added"
CHANGED = "action.changed"
DEACTIVATED = "action.deactivated"
REACTIVATED = "action.reactivated"
REMOVED = "action.removed"
NAME_RESERVED = "action.name.reserved"
NAME_RELEASED = "action.name.released"
TRIGGER_SET = "flow.trigger.set"
FLOW_CLEARED = "flow.cleared"

MAX_NAME = 200
MAX_SCRIPT_BYTES = 40_000
MAX_TIMEOUT = 20.0
MAX_TRIGGER_ACTIONS = 50
MAX_FILTERS = 30

State = Literal["ACTIVE", "INACTIVE"]
Trigger = Literal["pre_append", "post_append", "on_fire"]


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """An action as its events left it. ``timeout`` is in seconds (0 < t <= 20);
    ``sequence`` is that of its last event."""

    id: str
    organisation_id: str
    name: str
    script: str
    timeout: float
    allowed_to_fail: bool
    state: State
    sequence: int
    version: int
    created_at: datetime
    changed_at: datetime


class Binding(msgspec.Struct, frozen=True, kw_only=True):
    """The ordered actions of one trigger of a flow, and the events it is for (none: all)."""

    trigger_type: str
    action_ids: tuple[str, ...]
    event_types: tuple[str, ...] = ()
    aggregate_types: tuple[str, ...] = ()

    def matches(self, event_type: str, aggregate_type: str) -> bool:
        return (not self.event_types or event_type in self.event_types) and (
            not self.aggregate_types or aggregate_type in self.aggregate_types
        )


class Flow(msgspec.Struct, frozen=True, kw_only=True):
    """One flow type of an organisation: its triggers' bindings."""

    flow_type: str
    organisation_id: str
    triggers: dict[str, Binding] = msgspec.field(default_factory=dict)
    sequence: int = 0
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TriggerType:
    id: str
    key: str
    name: str
    runs: Trigger


@dataclass(frozen=True, slots=True)
class FlowType:
    id: str
    key: str
    name: str
    triggers: tuple[TriggerType, ...]

    def trigger(self, trigger_type: str) -> TriggerType:
        for t in self.triggers:
            if t.id == trigger_type:
                return t
        known = ", ".join(t.id for t in self.triggers)
        raise InvalidArgument(
            f"unknown trigger type {trigger_type!r} of {self.id}; there are {known}",
            field="triggerType",
        )


PRE_APPEND = TriggerType(
    "TRIGGER_TYPE_PRE_APPEND", "Action.TriggerType.PreAppend", "Before an append", "pre_append"
)
POST_APPEND = TriggerType(
    "TRIGGER_TYPE_POST_APPEND", "Action.TriggerType.PostAppend", "After an append", "post_append"
)
ON_FIRE = TriggerType(
    "TRIGGER_TYPE_ON_FIRE", "Action.TriggerType.OnFire", "When a schedule fires", "on_fire"
)
EVENTS = FlowType(
    "FLOW_TYPE_EVENTS", "Action.Flow.Type.Events", "Events", (PRE_APPEND, POST_APPEND)
)
SCHEDULES = FlowType("FLOW_TYPE_SCHEDULES", "Action.Flow.Type.Schedules", "Schedules", (ON_FIRE,))
FLOW_TYPES = (EVENTS, SCHEDULES)


def flow_type(value: str) -> FlowType:
    for f in FLOW_TYPES:
        if f.id == value:
            return f
    known = ", ".join(f.id for f in FLOW_TYPES)
    raise InvalidArgument(f"unknown flow type {value!r}; there are {known}", field="flowType")


# -- the rules of an action's fields -------------------------------------------------------


def check_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise InvalidArgument(f"name must be 1 to {MAX_NAME} characters", field="name")
    if "\x00" in name:
        raise InvalidArgument("name must not contain NUL characters", field="name")
    if name != name.strip():
        raise InvalidArgument("name must not start or end with white space", field="name")
    return name


def check_script(script: object) -> str:
    if not isinstance(script, str) or not script.strip():
        raise InvalidArgument("script must not be empty", field="script")
    size = len(script.encode())
    if size > MAX_SCRIPT_BYTES:
        raise InvalidArgument(
            f"script is {size} bytes; at most {MAX_SCRIPT_BYTES} are allowed",
            field="script",
            limit=MAX_SCRIPT_BYTES,
        )
    if "\x00" in script:
        raise InvalidArgument("script must not contain NUL characters", field="script")
    return script


def check_timeout(seconds: object) -> float:
    """0 to 20 seconds; 0 (or none given) means the longest, 20."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or not 0 <= seconds <= MAX_TIMEOUT
    ):
        raise InvalidArgument(f"timeout must be between 0s and {MAX_TIMEOUT:g}s", field="timeout")
    return float(seconds) or MAX_TIMEOUT


def name_key(organisation_id: str, name: str) -> str:
    """The id of the aggregate that holds a name in an organisation (names can be longer
    than an aggregate id may be)."""
    return hashlib.sha256(f"{organisation_id}\n{name}".encode()).hexdigest()


def flow_id(organisation_id: str, flow: str) -> str:
    return f"{organisation_id}/{flow}"


# -- applying events -----------------------------------------------------------------------


def applied(action: Action | None, event: Any) -> Action | None:
    """The action after ``event`` (an :class:`~chronik.records.Event` of its aggregate);
    None once removed. The one fold both the commands and the action list use."""
    p = event.payload
    if event.type in (ADDED, CHANGED):
        return Action(
            id=event.aggregate_id,
            organisation_id=event.resource_owner,
            name=p["name"],
            script=p["script"],
            timeout=float(p["timeout"]),
            allowed_to_fail=bool(p["allowedToFail"]),
            state=action.state if action is not None else "ACTIVE",
            sequence=event.sequence,
            version=event.aggregate_version,
            created_at=action.created_at if action is not None else event.created_at,
            changed_at=event.created_at,
        )
    if action is None or event.type == REMOVED:
        return None
    state: State = action.state
    if event.type == DEACTIVATED:
        state = "INACTIVE"
    elif event.type == REACTIVATED:
        state = "ACTIVE"
    return msgspec.structs.replace(
        action,
        state=state,
        sequence=event.sequence,
        version=event.aggregate_version,
        changed_at=event.created_at,
    )


def action_payload(name: str, script: str, timeout: float, allowed_to_fail: bool) -> dict[str, Any]:
    return {"name": name, "script": script, "timeout": timeout, "allowedToFail": allowed_to_fail}
