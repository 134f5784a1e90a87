"""Runs the actions bound to the triggers of flows: before an append (inside it, before
commit), after an append (as a view, so a failure becomes a failed event and is retried),
and when a schedule fires (a failure is a failed firing). Every run leaves an execution
record and counts in the metrics.

Bindings are read from the action list and kept for ``action_flows_cache_seconds`` per
tenant: a change made through this process applies at once, one made on another node
within that time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from chronik.actions import model, projection
from chronik.actions.model import Action, Binding, FlowType, TriggerType
from chronik.actions.runtime import Run, Runtime
from chronik.errors import FailedPrecondition, InvalidArgument
from chronik.events.append import payload_json
from chronik.ids import new_ulid
from chronik.records import ActionRun, Event, NewEvent, Schedule, reserved
from chronik.settings import Settings
from chronik.storage.ports import ActionRunStore, Database
from chronik.views import View

log = logging.getLogger(__name__)

POST_APPEND_VIEW = "actions.post_append"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)

_Chain = tuple[str, Binding, list[Action]]  # organisation, binding, its active actions


class ActionFailed(FailedPrecondition):
    """An action stopped its flow: it failed (and may not) or it rejected the event."""


@dataclass
class Stats:
    """Runs per (action id, name, trigger, outcome), and durations per (action id, name)
    in :data:`BUCKETS` (the last count is above them all)."""

    runs: dict[tuple[str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    """[sum, count, bucket counts...]"""

    def observe(self, action: Action, trigger: str, run: Run) -> None:
        self.runs[(action.id, action.name, trigger, run.outcome)] += 1
        key = (action.id, action.name)
        histogram = self.seconds.get(key)
        if histogram is None:
            histogram = self.seconds[key] = [0.0] * (len(BUCKETS) + 3)
        histogram[0] += run.duration
        histogram[1] += 1
        histogram[2 + bisect.bisect_left(BUCKETS, run.duration)] += 1


class Recorder:
    """Writes execution records in batches, off the path of the run (a record may be
    lost if the process dies within ``every`` seconds of the run)."""

    def __init__(self, store: ActionRunStore, *, every: float = 0.2, most: int = 500) -> None:
        self._store = store
        self._every = every
        self._most = most
        self._buffer: list[ActionRun] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, run: ActionRun) -> None:
        self._buffer.append(run)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._later(), name="chronik-action-runs")

    async def _later(self) -> None:
        if len(self._buffer) < self._most:
            await asyncio.sleep(self._every)
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self._buffer:
                batch, self._buffer = self._buffer[: self._most], self._buffer[self._most :]
                try:
                    await self._store.add(batch)
                except Exception:
                    log.exception("could not store %d execution records of actions", len(batch))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


def event_context(e: NewEvent | Event) -> dict[str, Any]:
    """``ctx.event``: what an action sees of an event (after commit, where it is too)."""
    ctx: dict[str, Any] = {
        "type": e.type,
        "aggregateType": e.aggregate_type,
        "aggregateId": e.aggregate_id,
        "resourceOwner": e.resource_owner,
        "payload": e.payload,
        "correlationId": e.correlation_id,
        "causationId": e.causation_id,
        "metadata": e.metadata,
    }
    if isinstance(e, Event):
        ctx["sequence"] = e.sequence
        ctx["locator"] = e.locator
        ctx["aggregateVersion"] = e.aggregate_version
        ctx["createdAt"] = e.created_at.isoformat().replace("+00:00", "Z")
    return ctx


class Executor:
    def __init__(self, db: Database, runtime: Runtime, settings: Settings) -> None:
        self._db = db
        self.runtime = runtime
        self._ttl = settings.action_flows_cache_seconds
        self._max_payload = settings.max_payload_bytes
        self._cache: dict[str, tuple[float, dict[str, list[_Chain]]]] = {}
        self._changes: dict[str, int] = defaultdict(int)
        """Per tenant, how often its bindings changed here: a read that began before a change
        must not keep what it read."""
        self.recorder = Recorder(db.action_runs)
        self.stats = Stats()

    def changed(self, tenant_id: str) -> None:
        """Read the tenant's bindings again at the next run (they changed here)."""
        self._changes[tenant_id] += 1
        self._cache.pop(tenant_id, None)

    async def _bound(self, tenant_id: str) -> dict[str, list[_Chain]]:
        """Per trigger (``pre_append``...), the tenant's bindings with their active actions."""
        cached = self._cache.get(tenant_id)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        changes = self._changes[tenant_id]
        store = self._db.views
        rows = await store.rows_with_prefix(projection.VIEW, tenant_id, "flow:")
        flows = [projection.stored_flow(text) for text in rows.values()]
        keys = [
            projection.action_key(f.organisation_id, i)
            for f in flows
            for b in f.triggers.values()
            for i in b.action_ids
        ]
        actions: dict[str, Action] = {}
        if keys:
            for text in (await store.rows(projection.VIEW, tenant_id, keys)).values():
                action = projection.stored_action(text)
                actions[action.id] = action
        bound: dict[str, list[_Chain]] = defaultdict(list)
        for flow in flows:
            kind = model.flow_type(flow.flow_type)
            for binding in flow.triggers.values():
                active = [
                    a
                    for i in binding.action_ids
                    if (a := actions.get(i)) is not None and a.state == "ACTIVE"
                ]
                if active:
                    bound[kind.trigger(binding.trigger_type).runs].append(
                        (flow.organisation_id, binding, active)
                    )
        if self._changes[tenant_id] == changes:
            self._cache[tenant_id] = (time.monotonic() + self._ttl, bound)
        return bound

    async def _run(
        self,
        tenant_id: str,
        action: Action,
        flow: FlowType,
        trigger: TriggerType,
        ctx: dict[str, Any],
        *,
        event: NewEvent | Event,
        firing: str | None = None,
    ) -> Run:
        started_at = datetime.now(UTC)
        run = await self.runtime.run(
            action.name,
            action.script,
            timeout=action.timeout,
            ctx=ctx,
            trigger=trigger.runs,
            key=tenant_id,
        )
        self.stats.observe(action, trigger.id, run)
        self.recorder.add(
            ActionRun(
                id=new_ulid(),
                tenant_id=tenant_id,
                organisation_id=action.organisation_id,
                action_id=action.id,
                action_name=action.name,
                flow_type=flow.id,
                trigger_type=trigger.id,
                outcome=run.outcome,
                started_at=started_at,
                duration=run.duration,
                error=run.error,
                event_sequence=event.sequence if isinstance(event, Event) else None,
                event_locator=event.locator,
                event_type=event.type,
                firing=firing,
                logs=tuple((line.level, line.message) for line in run.logs),
                logs_dropped=run.logs_dropped,
            )
        )
        return run

    async def _chain(
        self,
        tenant_id: str,
        chains: list[_Chain],
        flow: FlowType,
        trigger: TriggerType,
        event: NewEvent | Event,
        *,
        all_organisations: bool = False,
        firing: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run the actions bound for ``event`` in order; the fields they set. Raises
        :class:`ActionFailed` when one stops the flow."""
        fields: dict[str, Any] = {}
        for organisation, binding, actions in chains:
            if not all_organisations and organisation != event.resource_owner:
                continue
            if not binding.matches(event.type, event.aggregate_type):
                continue
            for action in actions:
                ctx = {"event": event_context(event)}
                if fields:
                    ctx["event"]["payload"] = {**event.payload, **fields}
                if firing is not None:
                    ctx["firing"] = firing
                run = await self._run(
                    tenant_id,
                    action,
                    flow,
                    trigger,
                    ctx,
                    event=event,
                    firing=f"{firing['group']}/{firing['name']}" if firing else None,
                )
                if run.outcome == "rejected":
                    raise ActionFailed(
                        f"action {action.name!r} rejected the event: {run.error}",
                        action=action.name,
                        outcome=run.outcome,
                    )
                if run.outcome != "succeeded":
                    if action.allowed_to_fail:
                        continue
                    raise ActionFailed(
                        f"action {action.name!r} failed ({run.outcome}): {run.error}",
                        action=action.name,
                        outcome=run.outcome,
                    )
                if run.fields:
                    self._check(action, {**event.payload, **fields}, run.fields)
                fields.update(run.fields)
        return fields

    def _check(self, action: Action, payload: dict[str, Any], changes: dict[str, Any]) -> None:
        """Hold what an action sets to the rule every append is held to, naming the action and
        the field; refused, the append writes nothing."""
        checks: list[tuple[dict[str, Any], str, str | None]] = [
            ({k: v}, f"field {k!r}", k) for k, v in changes.items()
        ]
        checks.append(({**payload, **changes}, "the payload with its fields", None))
        for value, where, name in checks:
            try:
                payload_json(value, where, self._max_payload)
            except InvalidArgument as exc:
                raise InvalidArgument(
                    f"action {action.name!r} set what an event may not hold: {exc.message}",
                    action=action.name,
                    field=name,
                ) from None

    # -- the triggers ----------------------------------------------------------------------

    async def before_append(self, tenant_id: str, events: Sequence[NewEvent]) -> Sequence[NewEvent]:
        """The pre-append trigger: may refuse the append or add to the events' payloads."""
        chains = (await self._bound(tenant_id)).get("pre_append")
        if not chains:
            return events

        async def run(event: NewEvent) -> NewEvent:
            if (
                not isinstance(event, NewEvent)
                or not isinstance(event.payload, dict)
                or reserved(event.aggregate_type)
            ):
                return event
            fields = await self._chain(tenant_id, chains, model.EVENTS, model.PRE_APPEND, event)
            if fields:
                return msgspec.structs.replace(event, payload={**event.payload, **fields})
            return event

        if len(events) == 1:
            return [await run(events[0])]
        # The events of one append are independent: their chains share the workers.
        return await asyncio.gather(*(run(event) for event in events))

    async def _after_append(self, event: Event, rows: object) -> None:
        if reserved(event.aggregate_type):
            return  # an action must never stand between an operator and Chronik's records
        chains = (await self._bound(event.tenant_id)).get("post_append")
        if chains:
            await self._chain(event.tenant_id, chains, model.EVENTS, model.POST_APPEND, event)

    async def _nothing_after_append(self, tenant_id: str) -> bool:
        return not (await self._bound(tenant_id)).get("post_append")

    def post_append_view(self) -> View:
        """The view that runs the post-append trigger; it moves past the log of tenants
        that bind nothing to it without reading their events."""
        return View(
            name=POST_APPEND_VIEW,
            handler=self._after_append,
            skips=self._nothing_after_append,
            batch=100,
        )

    async def on_fire(self, schedule: Schedule, event: NewEvent) -> NewEvent:
        """The on-fire trigger (every organisation's bindings: schedules belong to the
        tenant): may fail the firing or add to its event's payload."""
        chains = (await self._bound(schedule.tenant_id)).get("on_fire")
        if not chains:
            return event
        due = schedule.next_fire_at
        firing = {
            "group": schedule.group,
            "name": schedule.name,
            "dueAt": due.isoformat().replace("+00:00", "Z") if due else None,
            "policyLocator": schedule.policy_locator,
        }
        fields = await self._chain(
            schedule.tenant_id,
            chains,
            model.SCHEDULES,
            model.ON_FIRE,
            event,
            all_organisations=True,
            firing=firing,
        )
        return (
            msgspec.structs.replace(event, payload={**event.payload, **fields}) if fields else event
        )

    async def close(self) -> None:
        await self.recorder.close()
