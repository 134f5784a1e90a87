"""What owners and operators do with webhooks: make, read, list, change, unsuspend and
remove them; list, read, resend and delete their diverted events. Every call is scoped to
one tenant: another tenant's webhook is not found, exactly as one that does not exist.

A webhook is delivered by its own view (see :mod:`chronik.webhooks.runner`): its diverted
events are that view's failed events it has moved past, and a resend runs one of them
through the endpoint again, now, in the caller's request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from chronik.errors import DeliveryFailed, FailedPrecondition, InvalidArgument, NotFound
from chronik.ids import new_ulid
from chronik.records import Endpoint, FailedEvent, Webhook, WebhookDefinition
from chronik.storage.ports import Database
from chronik.webhooks.delivery import Deliverer
from chronik.webhooks.model import Diverted, checked, failure_parts, failure_text
from chronik.webhooks.runner import WebhookRunner, body

MAX_PER_TENANT = 100
_ULID_CHARS = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz")


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """A change as Socotra's update says it: only what is given changes. ``endpoint`` holds
    the endpoint fields to set; triggers and event types are added and removed (or
    ``event_types`` replaces them); an alert endpoint or retry strategy is set or removed."""

    name: str | None = None
    enabled: bool | None = None
    endpoint: dict[str, Any] | None = None
    add_triggers: Sequence[str] = ()
    remove_triggers: Sequence[str] = ()
    alert_endpoint: Endpoint | None = None
    remove_alert_endpoint: bool = False
    retry_strategy: Any = None
    remove_retry_strategy: bool = False
    divert: bool | None = None
    suspend: bool | None = None
    event_types: Sequence[str] | None = None
    add_event_types: Sequence[str] = ()
    remove_event_types: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    """Where a webhook's delivery stands."""

    webhook: Webhook
    position: int
    head: int
    retrying: FailedEvent | None
    """The event it is retrying now (failed, not yet for good), if any."""
    diverted: int
    node: str | None
    """The node whose lease on it is live: the one delivering it."""

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class Webhooks:
    def __init__(
        self,
        db: Database,
        deliverer: Deliverer,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._store = db.webhooks
        self.deliverer = deliverer
        self._clock = clock
        self.runner: WebhookRunner | None = None
        """This process's runner, if it delivers: woken by every change made here."""

    def _woken(self) -> None:
        if self.runner is not None:
            self.runner.wake()

    async def create(self, tenant_id: str, definition: WebhookDefinition) -> Webhook:
        """A new webhook, delivering the events appended from now on."""
        definition = checked(definition)
        await self._reachable(definition)
        if len(await self._store.of_tenant(tenant_id)) >= MAX_PER_TENANT:
            raise FailedPrecondition(f"a tenant has at most {MAX_PER_TENANT} webhooks")
        now = self._clock()
        hook = Webhook(
            locator=new_ulid(),
            tenant_id=tenant_id,
            definition=definition,
            created_at=now,
            updated_at=now,
        )
        await self._store.create(hook, await self._db.events.head(tenant_id))
        self._woken()
        return hook

    async def get(self, tenant_id: str, locator: str) -> Webhook:
        found = None
        if _plausible(locator):
            found = await self._store.get(tenant_id, locator)
        if found is None:
            raise NotFound(f"webhook {locator!r} not found")
        return found

    async def find(
        self,
        tenant_id: str,
        *,
        offset: int = 0,
        count: int = 100,
        name: str | None = None,
        enabled: bool | None = None,
        suspended: bool | None = None,
        active: bool | None = None,
        event_types: Sequence[str] = (),
    ) -> tuple[list[Webhook], bool]:
        """A page of the tenant's webhooks (oldest first) that pass every filter given, and
        whether it is the last one. ``event_types``: webhooks delivering any of them."""
        wanted = set(event_types)
        found = [
            h
            for h in await self._store.of_tenant(tenant_id)
            if (name is None or h.definition.name == name)
            and (enabled is None or h.definition.enabled == enabled)
            and (suspended is None or (h.suspended_at is not None) == suspended)
            and (active is None or h.active == active)
            and (
                not wanted
                or not h.definition.event_types
                or bool(wanted & set(h.definition.event_types))
            )
        ]
        return found[offset : offset + count], offset + count >= len(found)

    async def update(self, tenant_id: str, locator: str, change: WebhookChange) -> Webhook:
        hook = await self.get(tenant_id, locator)
        definition = checked(_changed(hook.definition, change))
        if definition.endpoint.url != hook.definition.endpoint.url or (
            definition.failure_handling.alert_endpoint
            != hook.definition.failure_handling.alert_endpoint
        ):
            await self._reachable(definition)
        changed = msgspec.structs.replace(hook, definition=definition, updated_at=self._clock())
        if not await self._store.replace(changed):
            raise NotFound(f"webhook {locator!r} not found")
        self._woken()
        return changed

    async def unsuspend(self, tenant_id: str, locator: str) -> Webhook:
        """Deliver again, from the event it stopped at (suspended webhooks keep their
        position); a webhook that is not suspended stays as it is."""
        hook = await self.get(tenant_id, locator)
        if hook.suspended_at is not None:
            await self._store.set_suspended(tenant_id, locator, None)
            hook = msgspec.structs.replace(hook, suspended_at=None)
            self._woken()
        return hook

    async def delete(self, tenant_id: str, locator: str) -> None:
        """Remove a webhook with its position and diverted events."""
        hook = await self.get(tenant_id, locator)
        if not await self._store.delete(tenant_id, locator, hook.view):
            raise NotFound(f"webhook {locator!r} not found")
        self._woken()

    async def status(self, tenant_id: str, locator: str) -> WebhookStatus:
        hook = await self.get(tenant_id, locator)
        views = self._db.views
        state = await views.state(hook.view, tenant_id)
        position = 0 if state is None else state.position
        pending = await views.pending(hook.view, tenant_id)
        retrying = next((f for f in pending if f.sequence > position), None)
        now = self._clock()
        node = None
        if state is not None and state.owner and state.lease_until and state.lease_until > now:
            node = state.owner
        return WebhookStatus(
            webhook=hook,
            position=position,
            head=await self._db.events.head(tenant_id),
            retrying=retrying,
            diverted=await views.count_failed(tenant_id, hook.view) - (retrying is not None),
            node=node,
        )

    # -- diverted events ---------------------------------------------------------------------

    async def diverted(
        self, tenant_id: str, locator: str, *, offset: int = 0, count: int = 100
    ) -> list[Diverted]:
        """The webhook's diverted events, oldest event first."""
        hook = await self.get(tenant_id, locator)
        records = await self._records(hook)
        return [await self._diverted(tenant_id, f) for f in records[offset : offset + count]]

    async def diverted_event(self, tenant_id: str, locator: str, event_locator: str) -> Diverted:
        hook = await self.get(tenant_id, locator)
        return await self._diverted(tenant_id, await self._record(hook, event_locator))

    async def resend(self, tenant_id: str, locator: str, event_locator: str) -> None:
        """Deliver a diverted event again now: on success its record goes; on failure it
        stays, counting one more failure, and :class:`DeliveryFailed` says why."""
        hook = await self.get(tenant_id, locator)
        record = await self._record(hook, event_locator)
        event = await self._db.events.get(tenant_id, event_locator)
        assert event is not None  # _record found it
        outcome = await self.deliverer.post(hook.definition.endpoint, body(event), event.locator)
        if outcome.trigger is None:
            await self._db.views.remove_failed(tenant_id, hook.view, record.sequence)
            return
        error = failure_text(outcome.trigger, outcome.message)
        await self._db.views.failed_again(
            tenant_id, hook.view, record.sequence, error, self._clock()
        )
        raise DeliveryFailed(f"the endpoint did not take the event: {outcome.message}")

    async def delete_diverted(self, tenant_id: str, locator: str, event_locator: str) -> None:
        hook = await self.get(tenant_id, locator)
        record = await self._record(hook, event_locator)
        if not await self._db.views.remove_failed(tenant_id, hook.view, record.sequence):
            raise NotFound(f"event {event_locator!r} is not diverted")

    async def _records(self, hook: Webhook) -> list[FailedEvent]:
        """The view's failed events it has moved past: the diverted ones."""
        views = self._db.views
        state = await views.state(hook.view, hook.tenant_id)
        position = 0 if state is None else state.position
        found: list[FailedEvent] = []
        after = (hook.view, 0)
        while page := await views.failed(hook.tenant_id, view=hook.view, after=after, limit=1000):
            found += [f for f in page if f.sequence <= position]
            after = (hook.view, page[-1].sequence)
        return found

    async def _record(self, hook: Webhook, event_locator: str) -> FailedEvent:
        event = None
        if _plausible(event_locator):
            event = await self._db.events.get(hook.tenant_id, event_locator)
        if event is not None:
            state = await self._db.views.state(hook.view, hook.tenant_id)
            found = await self._db.views.failed(
                hook.tenant_id, view=hook.view, after=(hook.view, event.sequence - 1), limit=1
            )
            if (
                found
                and found[0].sequence == event.sequence
                and state is not None
                and event.sequence <= state.position
            ):
                return found[0]
        raise NotFound(f"event {event_locator!r} is not diverted")

    async def _diverted(self, tenant_id: str, record: FailedEvent) -> Diverted:
        found = await self._db.events.read_after(tenant_id, record.sequence - 1, 1)
        event = found[0]
        trigger, message = failure_parts(record.error)
        return Diverted(
            event_locator=event.locator,
            request_locator=event.request_id,
            sequence=record.sequence,
            failure_message=message,
            failure_timestamp=record.last_failed,
            failure_trigger=trigger,
            failure_count=record.failure_count,
        )

    async def _reachable(self, definition: WebhookDefinition) -> None:
        """Refuse an endpoint (or alert endpoint) the deliverer would never reach."""
        endpoints = [definition.endpoint, definition.failure_handling.alert_endpoint]
        for where, endpoint in zip(
            ("endpoint", "failureHandling.alertEndpoint"), endpoints, strict=True
        ):
            if endpoint is not None:
                try:
                    await self.deliverer.destinations.address(endpoint.url)
                except InvalidArgument as exc:
                    raise InvalidArgument(f"{where}.url: {exc.message}", field="url") from None


def _plausible(locator: str) -> bool:
    """Whether a locator can be a ULID at all (anything else is simply not found)."""
    return len(locator) == 26 and set(locator) <= _ULID_CHARS


def _changed(definition: WebhookDefinition, change: WebhookChange) -> WebhookDefinition:
    replace = msgspec.structs.replace
    endpoint = definition.endpoint
    if change.endpoint:
        fields = dict(change.endpoint)
        if fields.get("hmac_enabled") and not fields.get("secret") and not endpoint.secret:
            fields["secret"] = None  # made by checked()
        endpoint = replace(endpoint, **fields)
    handling = definition.failure_handling
    triggers = [t for t in handling.triggers if t not in set(change.remove_triggers)]
    triggers += [t for t in change.add_triggers if t not in triggers]
    handling = replace(
        handling,
        triggers=tuple(triggers),
        alert_endpoint=None
        if change.remove_alert_endpoint
        else change.alert_endpoint or handling.alert_endpoint,
        retry_strategy=None
        if change.remove_retry_strategy
        else change.retry_strategy or handling.retry_strategy,
        divert=handling.divert if change.divert is None else change.divert,
        suspend=handling.suspend if change.suspend is None else change.suspend,
    )
    types = list(definition.event_types if change.event_types is None else change.event_types)
    types = [t for t in types if t not in set(change.remove_event_types)]
    types += [t for t in change.add_event_types if t not in types]
    return replace(
        definition,
        name=definition.name if change.name is None else change.name,
        enabled=definition.enabled if change.enabled is None else change.enabled,
        endpoint=endpoint,
        failure_handling=handling,
        event_types=tuple(types),
    )
