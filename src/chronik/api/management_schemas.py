"""The response shapes of the ZITADEL Management API's actions and flows, for the OpenAPI
document (handlers build their answers directly)."""

from __future__ import annotations

from chronik.api.schemas import Localized, Shape


class ObjectDetails(Shape):
    sequence: str | None = None
    creationDate: str | None = None
    changeDate: str | None = None
    resourceOwner: str | None = None


class ListDetails(Shape):
    totalResult: str | None = None
    processedSequence: str | None = None
    viewTimestamp: str | None = None


class ZitadelAction(Shape):
    id: str
    details: ObjectDetails
    state: str
    name: str
    script: str
    timeout: str
    allowedToFail: bool | None = None


class ListActionsResponse(Shape):
    details: ListDetails
    sortingColumn: str
    result: list[ZitadelAction]


class GetActionResponse(Shape):
    action: ZitadelAction


class CreateActionResponse(Shape):
    id: str
    details: ObjectDetails


class DetailsResponse(Shape):
    details: ObjectDetails


class NamedType(Shape):
    id: str
    name: Localized


class ListTypesResponse(Shape):
    result: list[NamedType]


class TriggerAction(Shape):
    triggerType: NamedType
    actions: list[ZitadelAction]
    eventTypes: list[str] | None = None
    aggregateTypes: list[str] | None = None


class ZitadelFlow(Shape):
    type: NamedType
    details: ObjectDetails | None = None
    state: str
    triggerActions: list[TriggerAction] | None = None


class GetFlowResponse(Shape):
    flow: ZitadelFlow


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
