"""Tenants, organisations, tokens and permissions hold alike on every transport of the
ZITADEL RPCs (grpc-gateway JSON, gRPC, gRPC-web): each case is called through all three,
which must answer the same message or the same ``google.rpc.Status``."""

from __future__ import annotations

from typing import Any

import httpx

from chronik.api.rpc.methods import Method, all_methods
from chronik.auth.permissions import ROLES
from chronik.services import Chronik
from tests.api.helpers import OTHER_ORG, Headers, append, bearer, failed_events, new_event
from tests.api.transports import Clients
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED = 5, 3, 7, 16
EVENTS = "FLOW_TYPE_EVENTS"
POST = "TRIGGER_TYPE_POST_APPEND"
SCRIPT = "function mine(ctx, api) { log.info('ran') }"


def placeholder(method: Method) -> dict[str, Any]:
    """A request that names something in every segment of the method's JSON path (the JSON
    route of an empty segment is another route)."""
    fields = method.request.DESCRIPTOR.fields_by_name
    names = [part[1:-1] for part in method.http.path.split("/") if part.startswith("{")]
    return {n: "x" if fields[n].type == fields[n].TYPE_STRING else 1 for n in names}


async def test_another_tenants_events_and_types_are_invisible(
    clients: Clients, api: httpx.AsyncClient, owner: Headers, stranger: Headers
) -> None:
    theirs = await append(
        api,
        owner,
        new_event("user", "u-1", "user.human.added"),
        new_event("secret", "s-1", "secret.kept", {"pin": 1234}),
    )
    mine = await append(api, stranger, new_event("org", "o-9", "org.added"))

    everything = await clients.same("ListEvents", {"asc": True}, stranger)
    assert [str(e.sequence) for e in everything.message.events] == [  # type: ignore[attr-defined]
        e["sequence"] for e in mine
    ]
    searches: list[dict[str, Any]] = [
        {"aggregateId": "u-1"},
        {"eventTypes": ["secret.kept"]},
        {"editorUserId": theirs[0]["editor"]["userId"]},
        {"aggregateTypes": ["user", "secret"], "sequence": "0", "asc": True},
    ]
    for request in searches:
        found = await clients.same("ListEvents", request, stranger)
        assert found.code == 0 and found.message.ByteSize() == 0, request
    events = await clients.same("ListEventTypes", {}, stranger)
    aggregates = await clients.same("ListAggregateTypes", {}, stranger)
    assert [t.type for t in events.message.event_types] == ["org.added"]  # type: ignore[attr-defined]
    assert [t.type for t in aggregates.message.aggregate_types] == ["org"]  # type: ignore[attr-defined]


async def test_another_tenants_actions_flows_views_and_failed_events_are_invisible(
    clients: Clients,
    chronik: Chronik,
    tenant: str,
    owner: Headers,
    org_owner: Headers,
    stranger: Headers,
) -> None:
    created = await clients.call("json", "CreateAction", {"name": "mine", "script": SCRIPT}, owner)
    action_id = created.message.id  # type: ignore[attr-defined]
    bind = {"flowType": EVENTS, "triggerType": POST, "actionIds": [action_id]}
    assert (await clients.call("json", "SetTriggerActions", bind, org_owner)).code == 0
    [sequence] = await failed_events(chronik, tenant, 1)
    other_org = await bearer(chronik, tenant, "ORG_OWNER", organisation_id="org-other")

    for outsider in (stranger, other_org):
        for name, request in [
            ("GetAction", {"id": action_id}),
            ("UpdateAction", {"id": action_id, "name": "theirs", "script": SCRIPT}),
            ("DeactivateAction", {"id": action_id}),
            ("ReactivateAction", {"id": action_id}),
            ("DeleteAction", {"id": action_id}),
        ]:
            refused = await clients.same(name, request, outsider)
            assert (refused.code, refused.error_id) == (NOT_FOUND, "CHRONIK-NF01"), name
        listed = await clients.same("ListActions", {}, outsider)
        assert not listed.message.result, "none of the actions"  # type: ignore[attr-defined]
        binding = await clients.same("SetTriggerActions", bind, outsider)
        assert binding.code == INVALID_ARGUMENT and binding.bad_fields == ["actionIds"]
        flow = await clients.same("GetFlow", {"type": EVENTS}, outsider)
        assert not flow.message.flow.trigger_actions  # type: ignore[attr-defined]

    failed = await clients.same("ListFailedEvents", {}, stranger)
    assert (failed.code, failed.message.ByteSize()) == (0, 0)
    views = await clients.same("ListViews", {}, stranger)
    # (``actions`` is caught up by the outsider's own ListActions above: its position is the
    # log's, with none of the owner's events in it.)
    processed = [v.view_name for v in views.message.result if v.processed_sequence]  # type: ignore[attr-defined]
    assert processed in ([], ["actions"])
    removal = {"database": "adminapi", "viewName": "iam_members", "failedSequence": sequence}
    removed = await clients.same("RemoveFailedEvent", removal, stranger)
    assert (removed.code, removed.message.ByteSize()) == (0, 0), "nothing there to remove"

    # ... and the owner's are as they were.
    still = await clients.same("ListFailedEvents", {}, owner)
    assert len(still.message.result) == 1  # type: ignore[attr-defined]
    flow = await clients.same("GetFlow", {"type": EVENTS}, owner)
    [trigger] = flow.message.flow.trigger_actions  # type: ignore[attr-defined]
    assert [a.id for a in trigger.actions] == [action_id]


MANAGEMENT = [m for m in all_methods() if m.service.startswith("zitadel.management.")]


async def test_the_organisation_header_names_another_organisation_only_for_tenant_owners(
    clients: Clients, owner: Headers, org_owner: Headers
) -> None:
    elsewhere = {**org_owner, "x-zitadel-orgid": OTHER_ORG}
    for method in MANAGEMENT:
        refused = await clients.same(method.name, placeholder(method), elsewhere)
        assert (refused.code, refused.error_id) == (PERMISSION_DENIED, "CHRONIK-PD01"), method.name

    there = {**owner, "x-zitadel-orgid": OTHER_ORG}
    for transport in ("json", "grpc", "grpc-web"):
        request = {"name": f"elsewhere-{transport}", "script": SCRIPT}
        created = await clients.call(transport, "CreateAction", request, there)
        assert created.message.details.resource_owner == OTHER_ORG  # type: ignore[attr-defined]
        action_id = created.message.id  # type: ignore[attr-defined]
        assert (await clients.same("GetAction", {"id": action_id}, org_owner)).code == NOT_FOUND
        found = await clients.same("GetAction", {"id": action_id}, there)
        assert found.message.action.details.resource_owner == OTHER_ORG  # type: ignore[attr-defined]
    assert not (await clients.same("ListActions", {}, org_owner)).message.result  # type: ignore[attr-defined]
    listed = await clients.same("ListActions", {}, there)
    assert len(listed.message.result) == 3  # type: ignore[attr-defined]
    unusable = {**owner, "x-zitadel-orgid": "o" * 201}
    assert (await clients.same("ListActions", {}, unusable)).code == INVALID_ARGUMENT


LIST_EVENTS = next(m for m in all_methods() if m.name == "ListEvents")
LIST_ACTIONS = next(m for m in all_methods() if m.name == "ListActions")


async def test_a_call_without_a_valid_token_is_unauthenticated(
    clients: Clients, chronik: Chronik, tenant: str
) -> None:
    """Every RPC wants a token; each way of not having a valid one is tried on one RPC of
    each service (they all pass through the same check)."""
    record, token = await chronik.tokens.issue(tenant, ["IAM_OWNER"])
    await chronik.tokens.revoke(tenant, record.id)
    unknown = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    cases: list[tuple[Method, Headers]] = [(m, {}) for m in all_methods()]
    for headers in [
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic eDp5"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {token}"},  # revoked
        {"Authorization": f"Bearer {unknown}"},
    ]:
        cases += [(LIST_EVENTS, headers), (LIST_ACTIONS, headers)]
    for method, headers in cases:
        refused = await clients.same(method.name, placeholder(method), headers)
        assert (refused.code, refused.error_id) == (UNAUTHENTICATED, "CHRONIK-AU01"), (
            method.name,
            headers,
        )


async def test_a_role_without_the_permission_is_denied(
    clients: Clients, chronik: Chronik, tenant: str
) -> None:
    """Every RPC, called with the token of the role that may do most but not it."""
    for method in all_methods():
        lacking = [r for r, granted in ROLES.items() if method.permission not in granted]
        assert lacking, f"every role may call {method.name}"
        role = max(lacking, key=lambda r: len(ROLES[r]))
        refused = await clients.same(
            method.name, placeholder(method), await bearer(chronik, tenant, role)
        )
        assert (refused.code, refused.error_id) == (PERMISSION_DENIED, "CHRONIK-PD01"), (
            method.name,
            role,
        )
