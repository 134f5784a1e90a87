"""Everything one Chronik process serves, built from one :class:`Settings`.

The CLI and the HTTP app construct this once and pass it down; nothing is a module-level
singleton.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from chronik.actions import Actions, Executor, HttpPolicy, Limits, Runtime
from chronik.actions import projection as action_list
from chronik.auth.oidc import Authenticator, OidcVerifier
from chronik.auth.tokens import Tokens
from chronik.errors import AlreadyExists, FailedPrecondition, NotFound
from chronik.events import Catalogue, EventLog
from chronik.groups import ConsumerGroups
from chronik.records import Editor, Event, ExpectedVersion, NewEvent, Tenant, reserved
from chronik.schedules import Scheduler, Schedules
from chronik.settings import Settings
from chronik.storage import Database, TenantStore, open_database
from chronik.storage.placement import Moved, PlacedDatabase
from chronik.views import Registry, ViewRunner, Views
from chronik.webhooks import Deliverer, Destinations, WebhookRunner, Webhooks

DEFAULT_TENANT = "default"


@dataclass(slots=True)
class Chronik:
    """The async Python API: ``chronik = await Chronik.open(Settings())``."""

    settings: Settings
    db: Database
    events: EventLog
    tenants: TenantStore
    catalogue: Catalogue
    tokens: Tokens
    authenticator: Authenticator
    views: Views
    schedules: Schedules
    actions: Actions
    webhooks: Webhooks
    groups: ConsumerGroups
    _runner_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _scheduler_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _webhooks_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def open(
        cls, settings: Settings, *, migrate: bool = True, views: Registry | None = None
    ) -> Chronik:
        """Open the database of ``settings``; ``views`` are the views this process knows
        (and runs, after :meth:`start_views`)."""
        oidc = OidcVerifier(settings) if settings.oidc_issuer else None
        db = await open_database(settings, migrate=migrate)
        tokens = Tokens(db.tokens, db.tenants)
        log = EventLog(db, settings)
        runtime = Runtime(
            workers=settings.action_workers,
            burst=settings.action_burst_workers,
            limits=Limits(memory_bytes=settings.action_memory_bytes),
            http=HttpPolicy(
                hosts=settings.action_http_hosts,
                timeout=settings.action_http_timeout_seconds,
                own_port=settings.listen_port,
            ),
        )
        executor = Executor(db, runtime, settings)
        log.before_append = executor.before_append
        registry = Registry()
        for view in views or ():
            registry.add(view)
        registry.add(action_list.view())
        registry.add(executor.post_append_view())
        views_service = Views(db, registry)
        return cls(
            settings=settings,
            db=db,
            events=log,
            tenants=db.tenants,
            catalogue=Catalogue(db.events),
            tokens=tokens,
            authenticator=Authenticator(tokens, oidc),
            views=views_service,
            schedules=Schedules(db, settings),
            actions=Actions(db, log, views_service, runtime, executor, settings),
            webhooks=Webhooks(
                db,
                Deliverer(
                    Destinations(settings.webhook_allowed_hosts),
                    timeout=settings.webhook_timeout_seconds,
                ),
            ),
            groups=ConsumerGroups(db),
        )

    def start_scheduler(self) -> Scheduler:
        """Fire due schedules in the background of this process until :meth:`close`."""
        if self.schedules.scheduler is None:
            scheduler = Scheduler(self.db, self.settings, hooks=[self.actions.executor.on_fire])
            self.schedules.scheduler = scheduler
            self._scheduler_task = asyncio.create_task(scheduler.run(), name="chronik-scheduler")
        return self.schedules.scheduler

    def start_views(self) -> ViewRunner:
        """Run the registered views in the background of this process until :meth:`close`."""
        if self.views.runner is None:
            runner = ViewRunner(
                self.db,
                self.views.registry,
                lease_seconds=self.settings.view_lease_seconds,
                poll_seconds=self.settings.follow_poll_seconds,
            )
            self.views.runner = runner
            self._runner_task = asyncio.create_task(runner.run(), name="chronik-views")
        return self.views.runner

    def start_webhooks(self) -> WebhookRunner:
        """Deliver the webhooks of every tenant from this process until :meth:`close` (each
        one from one node at a time)."""
        if self.webhooks.runner is None:
            runner = WebhookRunner(
                self.db,
                self.webhooks.deliverer,
                lease_seconds=self.settings.view_lease_seconds,
                poll_seconds=self.settings.follow_poll_seconds,
            )
            self.webhooks.runner = runner
            self._webhooks_task = asyncio.create_task(runner.run(), name="chronik-webhooks")
        return self.webhooks.runner

    async def restore(
        self,
        tenant_id: str,
        events: list[NewEvent],
        *,
        expected: list[ExpectedVersion],
        request_id: str,
        editor: Editor,
    ) -> list[Event]:
        """Append one append of an export as it was: users' events with no flow run on them
        (history is not rewritten), Chronik's own records through the service that owns
        them, never raw."""
        if any(reserved(e.aggregate_type) for e in events):
            return await self.actions.restore(
                tenant_id, events, expected=expected, request_id=request_id, editor=editor
            )
        return await self.events.append(
            tenant_id,
            events,
            expected=expected,
            request_id=request_id,
            editor=editor,
            flows=False,
        )

    async def placements(self) -> dict[str, str]:
        """Where each tenant lives (``host:port/dbname``; a tenant being moved: ``A -> B``);
        empty when tenants are not placed across databases."""
        if not isinstance(self.db, PlacedDatabase):
            return {}
        found = {}
        for tenant in await self.tenants.list():
            where = await self.db.placement(tenant.id, fresh=True)
            found[tenant.id] = where.database + (
                f" -> {where.moving_to}" if where.moving_to else ""
            )
        return found

    async def move_tenant(
        self, tenant: str, to: str, *, progress: Callable[[str], None] = lambda _: None
    ) -> Moved:
        """Move a tenant (id or name) with its records to another of the tenant databases."""
        if not isinstance(self.db, PlacedDatabase):
            raise FailedPrecondition(
                "tenants move between tenant databases: give them with --tenant-databases"
            )
        return await self.db.move(tenant, to, progress=progress)

    async def default_tenant(self) -> Tenant:
        """The tenant named ``default``, created on first use (the embedded install's)."""
        try:
            return await self.tenants.get(DEFAULT_TENANT)
        except NotFound:
            pass
        try:
            return await self.tenants.create(DEFAULT_TENANT)
        except AlreadyExists:
            return await self.tenants.get(DEFAULT_TENANT)

    async def close(self) -> None:
        for task in (self._runner_task, self._scheduler_task, self._webhooks_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._runner_task = self._scheduler_task = self._webhooks_task = None
        await self.webhooks.deliverer.close()
        await self.events.close()
        await self.actions.executor.close()
        await self.actions.runtime.close()
        await self.db.close()

    async def __aenter__(self) -> Chronik:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
