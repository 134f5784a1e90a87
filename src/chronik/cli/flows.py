"""``chronik flows set | get | clear``: which actions run, in which order, at the triggers
of a flow of an organisation."""

from __future__ import annotations

from typing import Annotated

import typer

from chronik.actions import FLOW_TYPES, Actions, Flow
from chronik.actions.model import flow_type as known_flow_type
from chronik.cli.actions import OrganisationOption, with_actions
from chronik.cli.context import DatabaseUrlOption, DataOption, TenantOption, run, say, settings_from
from chronik.cli.output import DocumentOption, Listing, json_document, show, table, write
from chronik.settings import DEFAULT_DATA_DIR

FlowTypeArgument = Annotated[
    str,
    typer.Argument(
        metavar="FLOW_TYPE", help=" or ".join(f.id for f in FLOW_TYPES), show_default=False
    ),
]
_TRIGGERS = "; ".join(f"{' or '.join(t.id for t in f.triggers)} of {f.id}" for f in FLOW_TYPES)


def set_(
    flow_type: FlowTypeArgument,
    trigger_type: Annotated[
        str, typer.Argument(metavar="TRIGGER_TYPE", help=_TRIGGERS, show_default=False)
    ],
    actions: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ID_OR_NAME",
            help="The actions, in the order they run; none unbinds the trigger.",
            show_default=False,
        ),
    ] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option(
            "--event-type", metavar="TYPE", help="Only for events of this type; repeatable."
        ),
    ] = None,
    aggregate_type: Annotated[
        list[str] | None,
        typer.Option(
            "--aggregate-type",
            metavar="TYPE",
            help="Only for events of aggregates of this type; repeatable.",
        ),
    ] = None,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Bind actions to a trigger of a flow, replacing what was bound to it."""

    async def bind(service: Actions, tenant_id: str) -> None:
        kind = known_flow_type(flow_type)
        trigger = kind.trigger(trigger_type)
        names = actions or []
        ids = [(await service.find(tenant_id, organisation, a)).id for a in names]
        await service.set_trigger(
            tenant_id,
            organisation,
            kind.id,
            trigger.id,
            ids,
            event_types=event_type or (),
            aggregate_types=aggregate_type or (),
        )
        if ids:
            say(f"bound {', '.join(names)} to {trigger.id} of {kind.id}")
        else:
            say(f"unbound {trigger.id} of {kind.id}")

    run(lambda: with_actions(settings_from(data, database_url), tenant, bind))


def get(
    flow_type: FlowTypeArgument,
    output: DocumentOption = Listing.table,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Show each trigger of a flow with its actions, in the order they run, and its filters."""

    async def read(service: Actions, tenant_id: str) -> tuple[Flow, dict[str, str]]:
        flow = await service.flow(tenant_id, organisation, flow_type)
        ids = {i for b in flow.triggers.values() for i in b.action_ids}
        found = await service.many(tenant_id, organisation, ids)
        names = {
            a.id: a.name if a.state == "ACTIVE" else f"{a.name} (inactive)" for a in found.values()
        }
        return flow, names

    flow, names = run(lambda: with_actions(settings_from(data, database_url), tenant, read))
    if output is Listing.json:
        write(json_document(flow))
        return
    grid = table("trigger", "actions", "event types", "aggregate types")
    for trigger in known_flow_type(flow.flow_type).triggers:
        binding = flow.triggers.get(trigger.id)
        if binding is None:
            grid.add_row(trigger.id, "-", "", "")
            continue
        grid.add_row(
            trigger.id,
            ", ".join(names.get(i, i) for i in binding.action_ids) or "-",
            ", ".join(binding.event_types) or "all",
            ", ".join(binding.aggregate_types) or "all",
        )
    show(grid)


def clear(
    flow_type: FlowTypeArgument,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Unbind every trigger of a flow."""

    async def empty(service: Actions, tenant_id: str) -> None:
        await service.clear_flow(tenant_id, organisation, flow_type)
        say(f"cleared {known_flow_type(flow_type).id}: no action runs at its triggers")

    run(lambda: with_actions(settings_from(data, database_url), tenant, empty))
