"""What users do with actions and flows: create, change, deactivate, reactivate and delete
actions, bind them to the triggers of flows, search them, test them, and list their runs.

Commands read an action from its own events and append with its expected version, so two
concurrent changes never both win; a name is reserved in its organisation by an
``action_name`` aggregate appended in the same transaction. Queries are those of
:class:`~chronik.actions.listing.ActionListing`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chronik.actions import model
from chronik.actions.execution import Executor
from chronik.actions.listing import ActionListing
from chronik.actions.model import Action, Flow
from chronik.actions.runtime import Run, Runtime
from chronik.actions.search import ActionQuery, NameQuery
from chronik.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound
from chronik.events import EventLog, EventQuery
from chronik.ids import new_ulid
from chronik.records import Editor, Event, ExpectedVersion, NewEvent
from chronik.settings import Settings
from chronik.storage.ports import Database
from chronik.views import Views


class Actions(ActionListing):
    def __init__(
        self,
        db: Database,
        log: EventLog,
        views: Views,
        runtime: Runtime,
        executor: Executor,
        settings: Settings,
    ) -> None:
        super().__init__(db, views, executor, settings)
        self._log = log
        self.runtime = runtime

    # -- actions ---------------------------------------------------------------------------

    async def _events_of(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str
    ) -> list[Event]:
        limit = self._settings.search_max_limit
        query = EventQuery(
            aggregate_types=(aggregate_type,), aggregate_id=aggregate_id, asc=True, limit=limit
        )
        page = await self._log.search(tenant_id, query)
        events = list(page.events)
        while len(page.events) == limit:
            page = await self._log.next_page(tenant_id, page.paging_token)
            events += page.events
        return events

    async def _load(self, tenant_id: str, organisation_id: str, action_id: str) -> Action:
        action: Action | None = None
        for event in await self._events_of(tenant_id, model.ACTION, action_id):
            with contextlib.suppress(InvalidArgument):  # skipped, as the action list does
                action = model.applied(action, event)
        if action is None or action.organisation_id != organisation_id:
            raise NotFound(f"action {action_id!r} not found")
        return action

    async def _name(
        self, tenant_id: str, organisation_id: str, name: str, action_id: str
    ) -> ExpectedVersion:
        """The name's aggregate at its version, if the name is free (or held by
        ``action_id``)."""
        key = model.name_key(organisation_id, name)
        events = await self._events_of(tenant_id, model.ACTION_NAME, key)
        last = events[-1] if events else None
        if (
            last is not None
            and last.type == model.NAME_RESERVED
            and last.payload.get("actionId") != action_id
        ):
            raise AlreadyExists(
                f"an action named {name!r} already exists in this organisation", field="name"
            )
        return ExpectedVersion(
            aggregate_type=model.ACTION_NAME,
            aggregate_id=key,
            version=last.aggregate_version if last else 0,
        )

    async def _append(
        self,
        tenant_id: str,
        events: list[NewEvent],
        expected: list[ExpectedVersion],
        editor: Editor | None,
        request_id: str | None = None,
    ) -> list[Event]:
        try:
            stored = await self._log.append_own(
                tenant_id, events, expected=expected, editor=editor, request_id=request_id
            )
        except Conflict as exc:
            raise Conflict(
                "the action or its name was changed at the same time; read it again and retry",
                **exc.details,
            ) from None
        self._written[tenant_id] = max(self._written.get(tenant_id, 0), stored[-1].sequence)
        await self._fresh(tenant_id)
        self.executor.changed(tenant_id)
        return stored

    async def _checked(self, name: str, script: str, timeout: float) -> tuple[str, str, float]:
        name = model.check_name(name)
        script = model.check_script(script)
        timeout = model.check_timeout(timeout)
        problem = await self.runtime.check(script)
        if problem is not None:
            raise InvalidArgument(f"script: {problem}", field="script")
        return name, script, timeout

    async def create(
        self,
        tenant_id: str,
        organisation_id: str,
        *,
        name: str,
        script: str,
        timeout: float = 0.0,
        allowed_to_fail: bool = False,
        editor: Editor | None = None,
    ) -> Action:
        name, script, timeout = await self._checked(name, script, timeout)
        action_id = new_ulid()
        held = await self._name(tenant_id, organisation_id, name, action_id)
        stored = await self._append(
            tenant_id,
            [
                NewEvent(
                    aggregate_type=model.ACTION,
                    aggregate_id=action_id,
                    type=model.ADDED,
                    payload=model.action_payload(name, script, timeout, allowed_to_fail),
                    resource_owner=organisation_id,
                ),
                _name_event(organisation_id, name, model.NAME_RESERVED, action_id),
            ],
            [ExpectedVersion(aggregate_type=model.ACTION, aggregate_id=action_id, version=0), held],
            editor,
        )
        action = model.applied(None, stored[0])
        assert action is not None
        return action

    async def update(
        self,
        tenant_id: str,
        organisation_id: str,
        action_id: str,
        *,
        name: str,
        script: str,
        timeout: float = 0.0,
        allowed_to_fail: bool = False,
        editor: Editor | None = None,
    ) -> Action:
        """Replace the action's name, script, timeout and ``allowed_to_fail`` (all of them);
        an update that changes nothing appends nothing."""
        current = await self._load(tenant_id, organisation_id, action_id)
        name, script, timeout = await self._checked(name, script, timeout)
        same = (current.name, current.script, current.timeout, current.allowed_to_fail)
        if same == (name, script, timeout, allowed_to_fail):
            return current
        events = [
            NewEvent(
                aggregate_type=model.ACTION,
                aggregate_id=action_id,
                type=model.CHANGED,
                payload=model.action_payload(name, script, timeout, allowed_to_fail),
                resource_owner=organisation_id,
            )
        ]
        expected = [_at(current)]
        if name != current.name:
            expected.append(await self._name(tenant_id, organisation_id, name, action_id))
            expected.append(await self._name(tenant_id, organisation_id, current.name, action_id))
            events.append(_name_event(organisation_id, name, model.NAME_RESERVED, action_id))
            events.append(
                _name_event(organisation_id, current.name, model.NAME_RELEASED, action_id)
            )
        stored = await self._append(tenant_id, events, expected, editor)
        changed = model.applied(current, stored[0])
        assert changed is not None
        return changed

    async def _state_change(
        self,
        tenant_id: str,
        organisation_id: str,
        action_id: str,
        event_type: str,
        editor: Editor | None,
    ) -> Action:
        current = await self._load(tenant_id, organisation_id, action_id)
        if event_type == model.DEACTIVATED and current.state == "INACTIVE":
            raise FailedPrecondition(f"action {current.name!r} is already inactive")
        if event_type == model.REACTIVATED and current.state == "ACTIVE":
            raise FailedPrecondition(f"action {current.name!r} is already active")
        event = NewEvent(
            aggregate_type=model.ACTION,
            aggregate_id=action_id,
            type=event_type,
            resource_owner=organisation_id,
        )
        stored = await self._append(tenant_id, [event], [_at(current)], editor)
        changed = model.applied(current, stored[0])
        assert changed is not None
        return changed

    async def deactivate(
        self, tenant_id: str, organisation_id: str, action_id: str, *, editor: Editor | None = None
    ) -> Action:
        """An inactive action stays bound to its triggers but does not run."""
        return await self._state_change(
            tenant_id, organisation_id, action_id, model.DEACTIVATED, editor
        )

    async def reactivate(
        self, tenant_id: str, organisation_id: str, action_id: str, *, editor: Editor | None = None
    ) -> Action:
        return await self._state_change(
            tenant_id, organisation_id, action_id, model.REACTIVATED, editor
        )

    async def delete(
        self, tenant_id: str, organisation_id: str, action_id: str, *, editor: Editor | None = None
    ) -> Event:
        """Remove the action (it leaves every trigger it was bound to) and free its name."""
        current = await self._load(tenant_id, organisation_id, action_id)
        held = await self._name(tenant_id, organisation_id, current.name, action_id)
        stored = await self._append(
            tenant_id,
            [
                NewEvent(
                    aggregate_type=model.ACTION,
                    aggregate_id=action_id,
                    type=model.REMOVED,
                    resource_owner=organisation_id,
                ),
                _name_event(organisation_id, current.name, model.NAME_RELEASED, action_id),
            ],
            [_at(current), held],
            editor,
        )
        return stored[0]

    async def restore(
        self,
        tenant_id: str,
        events: list[NewEvent],
        *,
        expected: list[ExpectedVersion],
        request_id: str,
        editor: Editor,
    ) -> list[Event]:
        """Append one of this service's appends from an export, as it was (same locators,
        request and editor), after the checks its commands make: the fields' rules, an
        action's life (added once, then changed, deactivated… while it exists), scripts that
        compile, flows that bind actions of their organisation. Appends already present
        (same locators) are returned as stored."""
        if events and events[0].locator is not None:
            with contextlib.suppress(NotFound):
                await self._log.get(tenant_id, events[0].locator)
                return await self._append(tenant_id, events, expected, editor, request_id)
        for event in events:
            if event.aggregate_type not in (model.ACTION, model.ACTION_NAME, model.FLOW):
                raise InvalidArgument(
                    f"{event.aggregate_type!r} is not a record Chronik knows; an append of an "
                    "export holds either users' events or Chronik's records of one kind",
                    field="aggregateType",
                )
            fields = model.parsed(event)
            if isinstance(fields, model.ActionFields):
                await self._checked(fields.name, fields.script, fields.timeout)
            if isinstance(fields, model.TriggerFields):
                for action_id in fields.action_ids:
                    await self._load(tenant_id, event.resource_owner, action_id)
            if event.aggregate_type == model.ACTION:
                await self._follows(tenant_id, event)
        return await self._append(tenant_id, events, expected, editor, request_id)

    async def _follows(self, tenant_id: str, event: NewEvent) -> None:
        """Refuse an action's event that its life so far does not allow."""
        try:
            current: Action | None = await self._load(
                tenant_id, event.resource_owner, event.aggregate_id
            )
        except NotFound:
            current = None
        allowed = {
            model.ADDED: current is None,
            model.CHANGED: current is not None,
            model.REMOVED: current is not None,
            model.DEACTIVATED: current is not None and current.state == "ACTIVE",
            model.REACTIVATED: current is not None and current.state == "INACTIVE",
        }
        if not allowed[event.type]:
            state = "does not exist" if current is None else f"is {current.state}"
            raise FailedPrecondition(
                f"{event.type} of action {event.aggregate_id}: the action {state}"
            )

    async def test(
        self,
        tenant_id: str,
        organisation_id: str,
        action_id: str,
        *,
        ctx: dict[str, Any],
    ) -> Run:
        """Run an action (active or not) on a sample ``ctx``, with every ``api`` a trigger
        offers; nothing is appended and no execution record is kept."""
        action = await self._load(tenant_id, organisation_id, action_id)
        return await self.runtime.run(
            action.name,
            action.script,
            timeout=action.timeout,
            ctx=ctx,
            trigger="test",
            key=tenant_id,
        )

    async def find(self, tenant_id: str, organisation_id: str, id_or_name: str) -> Action:
        """An action by id, or by its exact name (for the command line)."""
        try:
            return await self._load(tenant_id, organisation_id, id_or_name)
        except NotFound:
            pass
        found = await self.search(
            tenant_id,
            organisation_id,
            ActionQuery(names=(NameQuery(name=id_or_name),), limit=1),
        )
        if not found.actions:
            raise NotFound(f"no action with the id or name {id_or_name!r}")
        return found.actions[0]

    # -- flows -----------------------------------------------------------------------------

    async def set_trigger(
        self,
        tenant_id: str,
        organisation_id: str,
        flow_type: str,
        trigger_type: str,
        action_ids: list[str] | tuple[str, ...],
        *,
        event_types: list[str] | tuple[str, ...] = (),
        aggregate_types: list[str] | tuple[str, ...] = (),
        editor: Editor | None = None,
    ) -> Flow:
        """Bind ``action_ids``, in this order, to a trigger of a flow (replacing what was
        bound); an empty list unbinds it. Every id must be an action of the organisation."""
        kind = model.flow_type(flow_type)
        trigger = kind.trigger(trigger_type)
        ids = tuple(action_ids)
        model.check_binding(ids, tuple(event_types), tuple(aggregate_types))
        for action_id in ids:
            try:
                await self._load(tenant_id, organisation_id, action_id)
            except NotFound:
                raise InvalidArgument(
                    f"no action {action_id!r} in this organisation", field="actionIds"
                ) from None
        await self._append(
            tenant_id,
            [
                NewEvent(
                    aggregate_type=model.FLOW,
                    aggregate_id=model.flow_id(organisation_id, kind.id),
                    type=model.TRIGGER_SET,
                    payload={
                        "flowType": kind.id,
                        "triggerType": trigger.id,
                        "actionIds": list(ids),
                        "eventTypes": list(event_types),
                        "aggregateTypes": list(aggregate_types),
                    },
                    resource_owner=organisation_id,
                )
            ],
            [],
            editor,
        )
        return await self.flow(tenant_id, organisation_id, kind.id)

    async def clear_flow(
        self,
        tenant_id: str,
        organisation_id: str,
        flow_type: str,
        *,
        editor: Editor | None = None,
    ) -> Event:
        kind = model.flow_type(flow_type)
        stored = await self._append(
            tenant_id,
            [
                NewEvent(
                    aggregate_type=model.FLOW,
                    aggregate_id=model.flow_id(organisation_id, kind.id),
                    type=model.FLOW_CLEARED,
                    payload={"flowType": kind.id},
                    resource_owner=organisation_id,
                )
            ],
            [],
            editor,
        )
        return stored[0]


def _at(action: Action) -> ExpectedVersion:
    return ExpectedVersion(
        aggregate_type=model.ACTION, aggregate_id=action.id, version=action.version
    )


def _name_event(organisation_id: str, name: str, event_type: str, action_id: str) -> NewEvent:
    return NewEvent(
        aggregate_type=model.ACTION_NAME,
        aggregate_id=model.name_key(organisation_id, name),
        type=event_type,
        payload={"actionId": action_id, "name": name},
        resource_owner=organisation_id,
    )
