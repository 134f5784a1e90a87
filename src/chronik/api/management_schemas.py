"""The response shapes of the native action routes (runs, test runs), for the OpenAPI
document; ZITADEL's actions and flows are described from the protos."""

from __future__ import annotations

from chronik.api.schemas import Shape


class NativeActionRun(Shape):
    id: str
    actionId: str
    actionName: str
    flowType: str
    triggerType: str
    outcome: str
    startedAt: str
    durationMs: float
    error: str | None = None
    eventSequence: str | None = None
    eventLocator: str | None = None
    eventType: str | None = None
    firing: str | None = None
    logs: list[dict[str, str]]
    logsDropped: int | None = None


class NativeActionRuns(Shape):
    runs: list[NativeActionRun]
    pagingToken: str | None = None


class NativeTestRun(Shape):
    outcome: str
    error: str | None = None
    fields: dict[str, object]
    logs: list[dict[str, str]]
    logsDropped: int | None = None
    durationMs: float
