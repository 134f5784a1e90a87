"""Delivers every active webhook of every tenant: one task per webhook, each stepping the
webhook's view with the view runner, so that a webhook has what a view has: events in
sequence order, its position committed after each batch, a lease that one node holds at a
time (another takes over when it lapses: a node killed mid-delivery loses nothing, the
event goes again with the same ``webhook-id``), and failed events with backoff, which are
its retries and its diverted events.

A slow receiver holds up only its own webhook. The set of webhooks is read again every
``refresh_seconds`` (and at once when this process changed one), so a webhook made,
changed, suspended or removed on another node is taken up within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from chronik.events.shapes import socotra_event
from chronik.ids import new_ulid
from chronik.records import Event, Webhook, reserved
from chronik.storage.ports import Database
from chronik.storage.webhooks import DATABASE
from chronik.views.rows import Rows
from chronik.views.runner import Step, ViewRunner
from chronik.views.view import Registry, View
from chronik.webhooks.delivery import Deliverer, Outcome
from chronik.webhooks.model import backoff, failure_parts, failure_text

log = logging.getLogger(__name__)

_encode = msgspec.json.encode
_OLDEST_EVERY = 5.0
"""Seconds between looks at a webhook's oldest kept failure."""


class Undelivered(Exception):
    """A delivery failed with one of the webhook's triggers (its text is the record's)."""


def body(event: Event) -> bytes:
    """What a receiver gets: the event as the stream's EventResponse."""
    return _encode(socotra_event(event))


Key = tuple[str, str]  # tenant, webhook locator


class WebhookRunner:
    def __init__(
        self,
        db: Database,
        deliverer: Deliverer,
        *,
        lease_seconds: float = 10.0,
        poll_seconds: float = 0.5,
        refresh_seconds: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._deliverer = deliverer
        self.views = ViewRunner(db, Registry(), lease_seconds=lease_seconds)
        self._poll_seconds = poll_seconds
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._tasks: dict[Key, tuple[Webhook, asyncio.Task[None]]] = {}
        self._halted: dict[Key, float] = {}
        """Webhooks this node suspended, and when (monotonic)."""
        self._alerts: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.outcomes: Counter[str] = Counter()
        """Deliveries by outcome: ``delivered``, ``failed`` (a trigger matched) and
        ``ignored`` (a failure none of the webhook's triggers names)."""
        self.oldest_diverted: dict[Key, datetime] = {}
        """When the oldest kept failure of each webhook this node delivers first failed."""

    def wake(self) -> None:
        """Read the webhooks again now (this process made, changed or removed one)."""
        self._wake.set()

    def delivering(self) -> list[Webhook]:
        return [hook for hook, _ in self._tasks.values()]

    async def run(self) -> None:
        try:
            while True:
                wake = self._wake
                read_at = time.monotonic()
                try:
                    self._refresh(await self._db.webhooks.unsuspended(), read_at)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhooks: reading them failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._refresh_seconds)
                if wake.is_set():
                    self._wake = asyncio.Event()
        finally:
            for _, task in self._tasks.values():
                task.cancel()
            for _, task in self._tasks.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._tasks.clear()
            for alert in list(self._alerts):
                alert.cancel()
            await self.views.release()

    def _refresh(self, hooks: list[Webhook], read_at: float) -> None:
        fresh = {(h.tenant_id, h.locator): h for h in hooks if h.definition.enabled}
        for key, (hook, task) in list(self._tasks.items()):
            now = fresh.get(key)
            if now is None or now.updated_at != hook.updated_at or task.done():
                task.cancel()
                del self._tasks[key]
        for key, hook in fresh.items():
            halted = self._halted.get(key)
            if halted is not None:
                if read_at < halted:
                    continue  # read before this node suspended it
                del self._halted[key]
            if key not in self._tasks:
                task = asyncio.create_task(self._deliver(hook), name=f"chronik-{hook.view}")
                self._tasks[key] = (hook, task)

    def view(self, hook: Webhook) -> View:
        """The view that delivers ``hook``, as its failure handling says."""
        handling = hook.definition.failure_handling
        endpoint = hook.definition.endpoint
        key = (hook.tenant_id, hook.locator)

        async def deliver(event: Event, rows: Rows) -> None:
            if reserved(event.aggregate_type):
                return  # Chronik's own records are never sent
            outcome = await self._deliverer.post(endpoint, body(event), event.locator)
            if outcome.trigger is None:
                self.outcomes["delivered"] += 1
            elif handling.matches(outcome.trigger):
                self.outcomes["failed"] += 1
                raise Undelivered(failure_text(outcome.trigger, outcome.message))
            else:
                self.outcomes["ignored"] += 1

        async def exhausted(event: Event, error: str) -> bool:
            if handling.divert:
                self.oldest_diverted.setdefault(key, self._clock())
            if handling.alert_endpoint is not None:
                self._alert(hook, event, error)
            if not handling.suspend:
                return False
            self._halted[key] = time.monotonic()
            await self._db.webhooks.set_suspended(hook.tenant_id, hook.locator, self._clock())
            log.warning("webhook %s of tenant %s suspended", hook.locator, hook.tenant_id)
            return True

        return View(
            name=hook.view,
            handler=deliver,
            database=DATABASE,
            event_types=hook.definition.event_types,
            max_failures=handling.attempts,
            on_exhausted="skip" if handling.divert or not handling.suspend else "stop",
            keep_exhausted=handling.divert,
            exhausted=exhausted,
            backoff=backoff(handling.retry_strategy),
            batch=100,
            own_state=False,
        )

    async def _deliver(self, hook: Webhook) -> None:
        view = self.view(hook)
        key = (hook.tenant_id, hook.locator)
        looked = 0.0
        while key not in self._halted:
            signal = self._db.events.commit_signal()
            if time.monotonic() - looked > _OLDEST_EVERY:
                looked = time.monotonic()
                await self._note_oldest(hook)
            try:
                step = await self.views.step(view, hook.tenant_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook %s: a step failed; trying again", hook.locator)
                step = Step.IDLE
            if step in (Step.PROGRESSED, Step.LOST):
                continue
            timeout = self._poll_seconds
            due = self.views.due(view.name)
            if due is not None:
                timeout = max(0.0, min(timeout, (due - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout)

    async def _note_oldest(self, hook: Webhook) -> None:
        """Remember when the webhook's oldest kept failure happened (for the metrics)."""
        key = (hook.tenant_id, hook.locator)
        try:
            found = await self._db.views.failed(
                hook.tenant_id, view=hook.view, after=(hook.view, 0), limit=1
            )
        except Exception:
            return  # a metric is not worth a failed delivery
        if found:
            self.oldest_diverted[key] = found[0].first_failed
        else:
            self.oldest_diverted.pop(key, None)

    def _alert(self, hook: Webhook, event: Event, error: str) -> None:
        """Tell the alert endpoint, once, in the background (its failure is only logged)."""
        endpoint = hook.definition.failure_handling.alert_endpoint
        assert endpoint is not None
        trigger, message = failure_parts(error)
        handling = hook.definition.failure_handling
        notice = _encode(
            {
                "webhookLocator": hook.locator,
                "webhookName": hook.definition.name,
                "eventLocator": event.locator,
                "requestLocator": event.request_id,
                "failureTrigger": trigger,
                "failureMessage": message,
                "failureTimestamp": self._clock().isoformat().replace("+00:00", "Z"),
                "diverted": handling.divert,
                "suspended": handling.suspend,
            }
        )

        async def send() -> None:
            outcome: Outcome = await self._deliverer.post(endpoint, notice, new_ulid())
            if outcome.trigger is not None:
                log.warning("webhook %s: its alert endpoint answered %s", hook.locator, outcome)

        task = asyncio.create_task(send())
        self._alerts.add(task)
        task.add_done_callback(self._alerts.discard)
