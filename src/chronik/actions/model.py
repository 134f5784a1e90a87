"""What an action and a flow are, the rules their fields follow, and the events that record
them. An action is an aggregate of the log (``chronik.action``/its id); a flow is one too
(``chronik.flow``/``organisation/flow type``); a name is held by a ``chronik.action_name``
aggregate so that two actions of one organisation never share it. All three are in the
reserved namespace: only :class:`~chronik.actions.service.Actions` writes them, and
:func:`parsed` is the one check every such event passes before it is written or read."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec

from chronik.errors import InvalidArgument

ACTION = "chronik.action"
ACTION_NAME = "chronik.action_name"
FLOW = "chronik.flow"

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


def check_binding(
    action_ids: tuple[str, ...], event_types: tuple[str, ...], aggregate_types: tuple[str, ...]
) -> None:
    if len(action_ids) > MAX_TRIGGER_ACTIONS:
        raise InvalidArgument(
            f"at most {MAX_TRIGGER_ACTIONS} actions may be bound to a trigger", field="actionIds"
        )
    if len(set(action_ids)) != len(action_ids) or not all(action_ids):
        raise InvalidArgument(
            "an action may be bound to a trigger once, by its id", field="actionIds"
        )
    for what, names in (("eventTypes", event_types), ("aggregateTypes", aggregate_types)):
        if len(names) > MAX_FILTERS or not all(
            isinstance(n, str) and 0 < len(n) <= MAX_NAME for n in names
        ):
            raise InvalidArgument(
                f"{what}: at most {MAX_FILTERS} names of 1 to {MAX_NAME} characters", field=what
            )


# -- the events that record them -----------------------------------------------------------


class ActionFields(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str
    script: str
    timeout: float
    allowed_to_fail: bool


class NameFields(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    action_id: str
    name: str


class TriggerFields(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    flow_type: str
    trigger_type: str
    action_ids: tuple[str, ...]
    event_types: tuple[str, ...] = ()
    aggregate_types: tuple[str, ...] = ()


class ClearedFields(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    flow_type: str


class NoFields(msgspec.Struct, frozen=True):
    pass


Fields = ActionFields | NameFields | TriggerFields | ClearedFields | NoFields

_FIELDS: dict[tuple[str, str], type[Fields]] = {
    (ACTION, ADDED): ActionFields,
    (ACTION, CHANGED): ActionFields,
    (ACTION, DEACTIVATED): NoFields,
    (ACTION, REACTIVATED): NoFields,
    (ACTION, REMOVED): NoFields,
    (ACTION_NAME, NAME_RESERVED): NameFields,
    (ACTION_NAME, NAME_RELEASED): NameFields,
    (FLOW, TRIGGER_SET): TriggerFields,
    (FLOW, FLOW_CLEARED): ClearedFields,
}


def parsed(event: Any) -> Fields:
    """The fields of an event of an action, a name or a flow, checked by the rules the
    service checks when it writes one. However such an event reached the log (an old
    database, a tampered one), one that breaks them raises :class:`InvalidArgument` naming
    the event and the rule, never a bare ``KeyError``."""
    where = f"{event.aggregate_type} event {event.type!r} ({event.aggregate_id})"
    kind = _FIELDS.get((event.aggregate_type, event.type))
    if kind is None:
        raise InvalidArgument(f"{where}: not an event of that aggregate type")
    try:
        fields = msgspec.convert(event.payload, kind)
        owner = event.resource_owner
        if isinstance(fields, ActionFields):
            check_name(fields.name)
            check_script(fields.script)
            if check_timeout(fields.timeout) != fields.timeout:
                raise InvalidArgument("timeout must be above 0s", field="timeout")
        elif isinstance(fields, NameFields):
            check_name(fields.name)
            if event.aggregate_id != name_key(owner, fields.name):
                raise InvalidArgument("the aggregate id is not that of the name", field="name")
        elif isinstance(fields, TriggerFields | ClearedFields):
            kind_of_flow = flow_type(fields.flow_type)
            if isinstance(fields, TriggerFields):
                kind_of_flow.trigger(fields.trigger_type)
                check_binding(fields.action_ids, fields.event_types, fields.aggregate_types)
            if event.aggregate_id != flow_id(owner, kind_of_flow.id):
                raise InvalidArgument("the aggregate id is not that of the flow", field="flowType")
    except msgspec.ValidationError as exc:
        raise InvalidArgument(f"{where}: payload: {exc}") from None
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: {exc.message}", **exc.details) from None
    return fields


# -- applying events -----------------------------------------------------------------------


def applied(action: Action | None, event: Any) -> Action | None:
    """The action after ``event`` (an :class:`~chronik.records.Event` of its aggregate);
    None once removed. The one fold both the commands and the action list use; raises
    :class:`InvalidArgument` for an event that breaks the rules (see :func:`parsed`)."""
    fields = parsed(event)
    if isinstance(fields, ActionFields):
        return Action(
            id=event.aggregate_id,
            organisation_id=event.resource_owner,
            name=fields.name,
            script=fields.script,
            timeout=fields.timeout,
            allowed_to_fail=fields.allowed_to_fail,
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
