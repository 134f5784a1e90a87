"""Reading actions and flows from the action list (a view).

After a change made through this process, a read waits for a bounded time until the view
has taken it in, so a client reads its own writes; a process that runs no views brings the
list up to date itself (the way ZITADEL triggers a projection on read).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from chronik.actions import model, projection
from chronik.actions.execution import Executor
from chronik.actions.model import Action, Flow
from chronik.actions.search import ActionQuery, select
from chronik.errors import InvalidArgument, NotFound
from chronik.records import ActionRun, ViewState
from chronik.settings import Settings
from chronik.storage.ports import Database
from chronik.views import Registry, ViewRunner, Views


@dataclass(frozen=True, slots=True)
class ActionList:
    """One page of a search, with where the action list stood when it was read."""

    total: int
    actions: list[Action]
    processed_sequence: int
    view_timestamp: datetime | None


class ActionListing:
    def __init__(self, db: Database, views: Views, executor: Executor, settings: Settings) -> None:
        self._db = db
        self._views = views
        self.executor = executor
        self._settings = settings
        self._written: dict[str, int] = {}
        """Per tenant, the sequence of the last change made through this process."""
        self._own_runner: ViewRunner | None = None
        self._catching_up = asyncio.Lock()  # one step of the list at a time in this process

    async def _fresh(self, tenant_id: str) -> ViewState | None:
        """The action list's state once it holds this process's last change (or the wait
        ran out); a process that runs no views brings the list up to date itself."""
        view = self._views.registry.get(projection.VIEW)
        store = self._db.views
        if self._views.runner is None:
            if self._own_runner is None:
                registry = Registry()
                registry.add(view)
                self._own_runner = ViewRunner(
                    self._db, registry, lease_seconds=self._settings.view_lease_seconds
                )
            async with self._catching_up:
                await self._own_runner.catch_up(view, tenant_id)
                await self._own_runner.release()
        target = self._written.get(tenant_id, 0)
        deadline = time.monotonic() + self._settings.action_read_wait_seconds
        while True:
            state = await store.state(projection.VIEW, tenant_id)
            if (state.position if state else 0) >= target or time.monotonic() > deadline:
                return state
            if self._views.runner is not None:
                self._views.runner.wake()
            await asyncio.sleep(0.005)

    async def get(self, tenant_id: str, organisation_id: str, action_id: str) -> Action:
        await self._fresh(tenant_id)
        key = projection.action_key(organisation_id, action_id)
        found = await self._db.views.rows(projection.VIEW, tenant_id, [key])
        action = projection.stored_action(found[key]) if key in found else None
        if action is None or action.organisation_id != organisation_id:
            raise NotFound(f"action {action_id!r} not found")
        return action

    async def many(
        self, tenant_id: str, organisation_id: str, action_ids: list[str] | set[str]
    ) -> dict[str, Action]:
        """Those of ``action_ids`` that are actions of the organisation, by id."""
        await self._fresh(tenant_id)
        keys = [projection.action_key(organisation_id, i) for i in action_ids]
        found = await self._db.views.rows(projection.VIEW, tenant_id, keys)
        actions = (projection.stored_action(t) for t in found.values())
        return {a.id: a for a in actions if a.organisation_id == organisation_id}

    async def search(self, tenant_id: str, organisation_id: str, query: ActionQuery) -> ActionList:
        state = await self._fresh(tenant_id)
        rows = await self._db.views.rows_with_prefix(
            projection.VIEW, tenant_id, projection.action_key(organisation_id, "")
        )
        actions = [
            a
            for a in (projection.stored_action(t) for t in rows.values())
            if a.organisation_id == organisation_id
        ]
        total, page = select(
            actions,
            query,
            default_limit=self._settings.search_default_limit,
            max_limit=self._settings.search_max_limit,
        )
        return ActionList(
            total=total,
            actions=page,
            processed_sequence=state.position if state else 0,
            view_timestamp=state.last_run if state else None,
        )

    async def flow(self, tenant_id: str, organisation_id: str, flow_type: str) -> Flow:
        kind = model.flow_type(flow_type)
        await self._fresh(tenant_id)
        key = projection.flow_key(organisation_id, kind.id)
        found = await self._db.views.rows(projection.VIEW, tenant_id, [key])
        flow = projection.stored_flow(found[key]) if key in found else None
        return flow or Flow(flow_type=kind.id, organisation_id=organisation_id)

    async def runs(
        self,
        tenant_id: str,
        *,
        organisation_id: str | None = None,
        action_id: str | None = None,
        outcome: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[ActionRun]:
        """Execution records, newest first (those still buffered are written first)."""
        if not 1 <= limit <= self._settings.search_max_limit:
            raise InvalidArgument(
                f"limit must be between 1 and {self._settings.search_max_limit}", field="limit"
            )
        await self.executor.recorder.flush()
        return await self._db.action_runs.list(
            tenant_id,
            organisation_id=organisation_id,
            action_id=action_id,
            outcome=outcome,
            before=before,
            limit=limit,
        )
