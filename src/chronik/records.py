"""Immutable records shared by the storage backends and the capabilities built on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

RESERVED_PREFIX = "chronik."
"""Aggregate types that start with this are Chronik's own records (actions, flows…): only
the service that owns one writes it, through its own validation; every user write refuses
them."""


def reserved(aggregate_type: object) -> bool:
    """Whether ``aggregate_type`` is in Chronik's own namespace."""
    return isinstance(aggregate_type, str) and aggregate_type.startswith(RESERVED_PREFIX)


class Event(msgspec.Struct, frozen=True, gc=False):
    """One stored fact. ``sequence`` is its global position in the log, in commit order.

    (Positional construction is allowed because the backends build events on the hot paths
    of appending and following the log; everywhere else, name the fields. Events are not tracked
    by the garbage collector: they hold no cycles, and pages of them would only make its
    full collections longer.)"""

    sequence: int
    locator: str
    tenant_id: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    resource_owner: str
    type: str
    revision: int
    payload: dict[str, Any]
    editor_user_id: str
    editor_service: str
    request_id: str
    created_at: datetime
    correlation_id: str | None = None
    causation_id: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to append. A client-chosen ``locator`` (a ULID) makes a retried append
    idempotent: the same locators again return the stored events and write nothing.

    ``correlation_id`` (the whole conversation an event belongs to; searchable) and
    ``causation_id`` (what caused it, often another event's locator) are the caller's own
    strings; ``metadata`` is a free-form object beside the payload (counted into its size
    limit)."""

    aggregate_type: str
    aggregate_id: str
    type: str
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    resource_owner: str = ""
    revision: int = 1
    locator: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


EXISTS = -1
"""How a stored expectation says "the aggregate must exist" (any version >= 1)."""


class ExpectedVersion(msgspec.Struct, frozen=True):
    """What an aggregate must be before an append: at ``version`` exactly, ``"absent"``
    (the same as 0: it must not exist yet) or ``"exists"`` (any version >= 1).

    ``ExpectedVersion("order", "o1", 0)`` and the keyword form both work."""

    aggregate_type: str
    aggregate_id: str
    version: int | Literal["exists", "absent"]


class Editor(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str = ""
    service: str = ""


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    created_at: datetime


class PreparedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A validated :class:`NewEvent` with its locator chosen and its payload encoded once."""

    locator: str
    aggregate_type: str
    aggregate_id: str
    resource_owner: str
    type: str
    revision: int
    payload: dict[str, Any]
    payload_json: str
    correlation_id: str | None = None
    causation_id: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata_json: str | None = None
    """None for empty metadata: nothing to store, nothing to parse back."""


@dataclass(slots=True)
class PendingAppend:
    """One caller's atomic append, waiting to be committed, perhaps in a group with others."""

    tenant_id: str
    request_id: str
    events: list[PreparedEvent]
    expected: dict[tuple[str, str], int]
    """The version each aggregate must be at, or :data:`EXISTS`."""
    editor: Editor
    client_locators: bool
    """The locators may be stored already (the caller chose them, or they derive from the
    request id it named): a retry to recognise, not fresh ids."""
    aggregates: list[tuple[str, str]] = field(default_factory=list)


class EventFilter(msgspec.Struct, frozen=True, kw_only=True):
    """A search the storage executes as one keyset scan: every time bound already resolved
    to sequence bounds, lists already validated. ``after``/``before`` are exclusive."""

    tenant_id: str
    asc: bool
    limit: int
    after: int = 0
    before: int | None = None
    event_types: tuple[str, ...] = ()
    aggregate_types: tuple[str, ...] = ()
    aggregate_id: str = ""
    editor_user_id: str = ""
    resource_owner: str = ""
    users_only: bool = False
    """Leave out Chronik's own records (reserved aggregate types)."""
    correlation_id: str = ""


class EventQuery(msgspec.Struct, frozen=True, kw_only=True):
    """ZITADEL's ListEvents filters, all ANDed.

    ``sequence`` is a lower bound when ``asc`` and an upper bound otherwise (0: unset);
    ``creation_date`` likewise; ``since`` (inclusive) and ``until`` (exclusive) are a range.
    ``limit`` 0 takes the configured default; above the configured maximum is an error.
    """

    sequence: int = 0
    limit: int = 0
    asc: bool = False
    editor_user_id: str = ""
    event_types: tuple[str, ...] = ()
    aggregate_id: str = ""
    aggregate_types: tuple[str, ...] = ()
    resource_owner: str = ""
    creation_date: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None
    system: bool = True
    """Whether Chronik's own records (aggregate types ``chronik.…``) are in the results:
    ZITADEL's ListEvents shows its own events too."""
    correlation_id: str = ""
    """Only the events appended with this correlation id (not a ListEvents filter)."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a search. ``paging_token`` continues after it; it is there on every page,
    the empty last one too, so a client can poll a stream for what comes next."""

    events: list[Event]
    paging_token: str


class TypeCount(msgspec.Struct, frozen=True, kw_only=True):
    """A name in the event-type catalogue of one tenant."""

    kind: str  # "event" or "aggregate"
    name: str


class TokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored personal access token: the hash of its secret, never the secret."""

    id: str
    tenant_id: str
    name: str
    secret_hash: bytes
    organisation_id: str
    roles: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class ViewState(msgspec.Struct, frozen=True, kw_only=True):
    """Where one view stands in one tenant's events.

    ``position`` is the last sequence the view has dealt with (processed, skipped, or not
    its type); ``generation`` grows with every reset, so that a runner's commit that
    started before a reset is refused."""

    view: str
    tenant_id: str
    database: str
    position: int = 0
    event_at: datetime | None = None
    last_run: datetime | None = None
    generation: int = 0
    paused: bool = False
    owner: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ViewStatus:
    """A registered view in one tenant: where it stands, and how far the log has gone."""

    state: ViewState
    head: int
    failed: int
    node: str | None = None
    """The node whose lease on the view was live when it was read: the one running it."""

    @property
    def lag(self) -> int:
        """Events of the tenant after the view's position (its head minus the position)."""
        return max(0, self.head - self.state.position)

    @property
    def activity(self) -> Literal["running", "idle", "paused"]:
        """``paused``; ``running`` while a node holds a live lease on it; else ``idle`` (no
        server or worker runs it, or the one that did stopped and its lease ran out)."""
        if self.state.paused:
            return "paused"
        return "idle" if self.node is None else "running"


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a view, and the view's position (its last sequence in the tenant) that
    the value reflects."""

    key: str
    value: Any
    position: int


@dataclass(frozen=True, slots=True)
class RowPage:
    """Rows ordered by key (in code point order), all read at the view's ``position``.
    ``paging_token`` reads the next page; it is empty when there is none."""

    rows: list[Row]
    position: int
    paging_token: str = ""


class FailedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event a view failed to process. ``retry_at`` is when the runner tries it again;
    None once it was given up (skipped, or a stopped view waiting for an operator)."""

    view: str
    tenant_id: str
    database: str
    sequence: int
    failure_count: int
    error: str
    first_failed: datetime
    last_failed: datetime
    retry_at: datetime | None = None


class FailureUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A failure to record (its count already counted) in a view's commit."""

    sequence: int
    failure_count: int
    error: str
    retry_at: datetime | None


@dataclass(slots=True)
class ViewCommit:
    """What one batch of a view writes, in one transaction, if the view is still where
    the runner found it (``expected_position`` and ``generation``, and owned by it)."""

    view: str
    tenant_id: str
    owner: str
    generation: int
    expected_position: int
    position: int
    event_at: datetime | None
    now: datetime
    lease_until: datetime
    puts: dict[str, str] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)
    failures: list[FailureUpdate] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


class TimeRule(msgspec.Struct, frozen=True, kw_only=True):
    """When a schedule fires: ``once`` at ``at``; every ``every_seconds`` from ``at``
    (``interval``); or by a ``cron`` expression in ``time_zone``; at most ``repeat_limit``
    times in all when given."""

    kind: str  # "once", "interval" or "cron"
    at: datetime | None = None
    every_seconds: float | None = None
    cron: str | None = None
    time_zone: str = "UTC"
    repeat_limit: int | None = None


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """A named future firing that appends ``event_type`` with ``payload`` to the aggregate
    (``aggregate_type``, the policy locator or ``group/name``) when due."""

    tenant_id: str
    name: str
    group: str = "DEFAULT"
    event_type: str
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    policy_locator: str | None = None
    transaction_locator: str | None = None
    aggregate_type: str = ""
    rule: TimeRule
    misfire: str = "fire_once_now"  # or "skip_to_next"
    next_fire_at: datetime | None = None
    fired: int = 0
    missed: int = 0
    paused: bool = False
    error: bool = False
    owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def state(self, now: datetime) -> str:
        """Quartz's trigger state: PAUSED, ERROR, COMPLETE (no more fire times), BLOCKED (a
        node is firing it), or NORMAL (waiting)."""
        if self.paused:
            return "PAUSED"
        if self.error:
            return "ERROR"
        if self.next_fire_at is None:
            return "COMPLETE"
        if self.owner is not None and self.lease_until is not None and self.lease_until > now:
            return "BLOCKED"
        return "NORMAL"


class FailedJob(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule's failed firing: ``queued`` while automatic retries remain, ``quit`` after
    the maximum (the schedule is then in ERROR)."""

    tenant_id: str
    name: str
    group: str
    failure_count: int
    state: str
    error: str
    created_at: datetime
    updated_at: datetime
    policy_locator: str | None = None


@dataclass(slots=True)
class Firing:
    """What one claimed schedule does in the firing transaction: append ``append`` (none
    when a misfire is skipped) and move on to ``next_fire_at``; only while ``owner`` still
    holds it."""

    tenant_id: str
    group: str
    name: str
    owner: str
    next_fire_at: datetime | None
    append: PendingAppend | None
    fired: int
    missed: int
    now: datetime
    due: datetime | None = None
    """The fire time this firing is for."""


@dataclass(slots=True)
class FiringFailure:
    """A firing that failed: the failed job's new count and state, and when to try again
    (``next_fire_at``; the schedule goes to ERROR when ``quit``)."""

    tenant_id: str
    group: str
    name: str
    owner: str
    failure_count: int
    state: str
    error: str
    next_fire_at: datetime | None
    now: datetime


class ActionRun(msgspec.Struct, frozen=True, kw_only=True):
    """The execution record of one run of an action: what ran, for what, and how it went.

    ``outcome`` is ``succeeded``, ``failed``, ``rejected`` (the action refused the append or
    firing), ``timed_out``, ``out_of_memory`` or ``crashed`` (its worker process died)."""

    id: str
    tenant_id: str
    organisation_id: str
    action_id: str
    action_name: str
    flow_type: str
    trigger_type: str
    outcome: str
    started_at: datetime
    duration: float
    error: str = ""
    event_sequence: int | None = None
    event_locator: str | None = None
    event_type: str = ""
    firing: str | None = None
    """``group/name`` of the schedule whose firing ran the action."""
    logs: tuple[tuple[str, str], ...] = ()
    """(level, message) lines, bounded by the runtime."""
    logs_dropped: int = 0


# -- webhooks (chronik.webhooks checks them) -------------------------------------------------

WebhookPattern = Literal["linear", "exponential"]


class RetryStrategy(msgspec.Struct, frozen=True, kw_only=True):
    """``retries`` after the first attempt (1 to 10), the first ``interval_seconds`` apart;
    ``linear`` keeps that interval, ``exponential`` doubles it each time (at most an hour)."""

    retries: int = 3
    interval_seconds: float = 10.0
    pattern: WebhookPattern = "exponential"


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a delivery (or an alert) goes. ``secure_ssl=False`` accepts any certificate;
    ``headers`` are sent with every request; ``tag`` is the owner's note."""

    url: str
    hmac_enabled: bool = False
    secret: str | None = None
    secure_ssl: bool = True
    tag: str = ""
    headers: dict[str, list[str]] = msgspec.field(default_factory=dict)


class FailureHandling(msgspec.Struct, frozen=True, kw_only=True):
    triggers: tuple[str, ...] = ("4xx", "5xx", "timeout")
    alert_endpoint: Endpoint | None = None
    retry_strategy: RetryStrategy | None = None
    divert: bool = False
    suspend: bool = False

    @property
    def attempts(self) -> int:
        """Deliveries of one event before its failure is final."""
        return 1 + (self.retry_strategy.retries if self.retry_strategy else 0)

    def matches(self, trigger: str) -> bool:
        """Whether a failure (a status code as text, or ``timeout``) is one of the triggers."""
        return trigger in self.triggers or (
            trigger[0] in "45" and f"{trigger[0]}xx" in self.triggers
        )


class WebhookDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """What an owner says about a webhook (and may change)."""

    name: str
    endpoint: Endpoint
    enabled: bool = True
    failure_handling: FailureHandling = msgspec.field(default_factory=FailureHandling)
    event_types: tuple[str, ...] = ()
    """The types delivered; none: every event type (Chronik's own records never)."""


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    locator: str
    tenant_id: str
    definition: WebhookDefinition
    created_at: datetime
    updated_at: datetime
    suspended_at: datetime | None = None

    @property
    def view(self) -> str:
        """The view that delivers it: its position, lease and failed (diverted) events."""
        return f"webhook.{self.locator}"

    @property
    def active(self) -> bool:
        return self.definition.enabled and self.suspended_at is None


# -- consumer groups (chronik.groups) ----------------------------------------------------------


class GroupSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How a consumer group hands out events: of ``event_types`` (none: every type, never
    Chronik's own records), each to one consumer at a time for ``ack_timeout_seconds``; one
    handed out ``max_deliveries`` times without an acknowledgement is parked."""

    event_types: tuple[str, ...] = ()
    ack_timeout_seconds: float = 30.0
    max_deliveries: int = 5
    retry_seconds: float = 1.0
    """How long a ``nack(retry)`` waits before the event is handed out again."""


class ConsumerGroup(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    name: str
    settings: GroupSettings
    created_at: datetime

    @property
    def view(self) -> str:
        """The view whose position, and whose failed events (parked), are the group's."""
        return f"group.{self.name}"


class Lent(msgspec.Struct, frozen=True):
    """An event a group hands out: its sequence and how many times it was handed out."""

    sequence: int
    deliveries: int
