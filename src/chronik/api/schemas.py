"""The response shapes of the Socotra and native surfaces and of every error, for the OpenAPI
document (ZITADEL's answers are described from the protos: :mod:`chronik.api.rpc.openapi`).

Handlers build their answers directly (and msgspec encodes them); these models only describe
them, and the schemathesis test checks that every answer fits its description.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ZitadelError(Shape):
    """A ``google.rpc.Status``: each detail an ``Any``, its ``@type`` a type URL."""

    code: int
    message: str
    details: list[dict[str, Any]]


class SocotraEvent(Shape):
    locator: str
    userLocator: str
    requestId: str
    timestamp: str
    type: str
    data: dict[str, Any]


class EventStreamResponse(Shape):
    pagingToken: str
    events: list[SocotraEvent]


class SocotraError(Shape):
    httpStatus: int
    message: str
    details: dict[str, Any] | None = None


class NativeEditor(Shape):
    userId: str
    service: str


class NativeEvent(Shape):
    locator: str
    sequence: str
    tenantId: str
    aggregateType: str
    aggregateId: str
    aggregateVersion: int
    resourceOwner: str
    type: str
    revision: int
    payload: dict[str, Any]
    editor: NativeEditor
    requestId: str
    creationDate: str
    correlationId: str | None
    causationId: str | None
    metadata: dict[str, Any]


class AppendResponse(Shape):
    events: list[NativeEvent]


class NativeEventPage(Shape):
    events: list[NativeEvent]
    pagingToken: str


class Me(Shape):
    tenantId: str
    organisationId: str
    roles: list[str]
    permissions: list[str]


class NativeView(Shape):
    name: str
    database: str
    position: str
    lag: str
    failedEvents: int
    paused: bool
    state: Literal["running", "idle", "paused"]
    """``running`` while a server's or worker's lease on the view is live (``node`` holds
    it)."""
    registered: bool
    node: str | None = None
    eventTimestamp: str | None = None
    lastRun: str | None = None


class NativeViews(Shape):
    views: list[NativeView]


class NativeFailedEvent(Shape):
    view: str
    database: str
    sequence: str
    failureCount: int
    error: str
    firstFailed: str
    lastFailed: str
    retryAt: str | None = None


class FailedEventPage(Shape):
    failedEvents: list[NativeFailedEvent]
    pagingToken: str | None = None


class RetryScheduled(Shape):
    scheduled: int


class ScheduledPolicyEvent(Shape):
    policyLocator: str
    transactionLocator: str
    triggerState: str
    customEventId: str
    nextEventTime: str | None = None


class ScheduledTenantEvent(Shape):
    scheduleId: str
    eventTypeId: str
    triggerState: str
    data: dict[str, Any]
    eventTime: str | None = None
    nextEventTime: str | None = None


class FailedJobDetails(Shape):
    triggerName: str
    failedJobState: str
    failureCount: int
    triggerGroup: str
    updatedAt: str
    createdAt: str


class NativeRule(Shape):
    kind: str
    at: str | None = None
    everySeconds: float | None = None
    cron: str | None = None
    timeZone: str
    repeatLimit: int | None = None


class NativeSchedule(Shape):
    name: str
    group: str
    eventType: str
    payload: dict[str, Any]
    aggregateType: str
    rule: NativeRule
    misfire: str
    state: str
    fired: int
    missed: int
    createdAt: str
    updatedAt: str
    policyLocator: str | None = None
    transactionLocator: str | None = None
    nextFireTime: str | None = None


class NativeSchedules(Shape):
    schedules: list[NativeSchedule]


class NativeFailedJob(Shape):
    name: str
    group: str
    state: str
    failureCount: int
    error: str
    createdAt: str
    updatedAt: str
    policyLocator: str | None = None


class NativeFailedJobs(Shape):
    failedJobs: list[NativeFailedJob]


class WebhookEndpoint(Shape):
    url: str
    hmacEnabled: bool
    secret: str | None
    """Shown once: in the answer that made it (a create, or an update that set or made a
    new one); null in every other."""
    secureSsl: bool
    tag: str
    headers: dict[str, list[str]]


class WebhookRetryStrategy(Shape):
    retries: int
    intervalSeconds: float
    pattern: Literal["linear", "exponential"]


class WebhookFailureHandling(Shape):
    triggers: list[str]
    divert: bool
    suspend: bool
    alertEndpoint: WebhookEndpoint | None = None
    retryStrategy: WebhookRetryStrategy | None = None


class WebhookResponse(Shape):
    locator: str
    name: str
    enabled: bool
    endpoint: WebhookEndpoint
    failureHandling: WebhookFailureHandling
    suspended: bool
    suspendedAt: str | None
    eventTypes: list[str]


class WebhookList(Shape):
    listCompleted: bool
    items: list[WebhookResponse]


class DivertedEventResponse(Shape):
    eventLocator: str
    requestLocator: str
    failureMessage: str
    failureTimestamp: str
    failureTrigger: str


class Resent(Shape):
    """A resend's answer: ``{}`` (the receiver took the event)."""


class WebhookRetrying(Shape):
    eventSequence: str
    failureCount: int
    error: str
    retryAt: str | None


class WebhookStatusResponse(Shape):
    locator: str
    position: str
    head: str
    lag: int
    retrying: WebhookRetrying | None
    diverted: int
    node: str | None


class NativeErrorBody(Shape):
    code: str
    message: str
    details: dict[str, Any]


class NativeError(Shape):
    error: NativeErrorBody


def answers(
    ok: type[BaseModel] | None, error: type[BaseModel], *statuses: int, success: int = 200
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: its success shape and its surface's error shape (a body
    too large is 413, but 429 on ZITADEL's surface, as grpc-gateway maps RESOURCE_EXHAUSTED)."""
    declared: dict[int | str, dict[str, Any]] = {}
    if ok is not None:
        declared[success] = {"model": ok, "description": "Success"}
    too_large = 429 if error is ZitadelError else 413
    for status in (400, 401, 403, too_large, *statuses):
        declared[status] = {"model": error, "description": _WHY.get(status, "Error")}
    return declared


_WHY = {
    400: "Invalid argument",
    401: "Missing or invalid token",
    403: "The token lacks the permission",
    404: "Not found (also for other tenants' objects)",
    409: "An expected version did not hold",
    413: "The body is larger than the configured cap",
    429: "The body is larger than the configured cap (RESOURCE_EXHAUSTED)",
    502: "The webhook's receiver did not take the event",
}
