"""``chronik events append | search | tail``: writing, finding and following events."""

from __future__ import annotations

import sys
from contextlib import aclosing
from datetime import datetime
from typing import Annotated

import typer

from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantOption,
    counted,
    reading,
    run,
    say,
    settings_from,
    tenant_of,
)
from chronik.cli.input import InputFormat, appends, located
from chronik.cli.output import (
    EventTable,
    Listing,
    Output,
    Stream,
    console,
    json_document,
    ndjson,
    nothing,
    write,
)
from chronik.errors import ChronikError
from chronik.events import EventQuery
from chronik.records import Editor, reserved
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings


def append(
    file: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="Where to read events (default: stdin).")
    ] = "-",
    input_format: Annotated[
        InputFormat,
        typer.Option(
            "--format", help="Input format; auto takes several one-line objects for NDJSON."
        ),
    ] = InputFormat.auto,
    batch_size: Annotated[
        int, typer.Option(min=1, help="NDJSON: events per atomic append.")
    ] = 1000,
    editor_user: Annotated[
        str, typer.Option(metavar="ID", help="User id recorded as the events' editor.")
    ] = "",
    editor_service: Annotated[
        str, typer.Option(metavar="NAME", help="Service recorded as the events' editor.")
    ] = "",
    output: Annotated[
        Listing, typer.Option("--output", "-o", help="table, or json: NDJSON of the stored events.")
    ] = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Append events read from FILE or stdin, and print where each one was stored.

    JSON input (an event object, an array of them, or a batch object {"events": [...],
    "expectedVersions": [...], "requestId": ...}) is one atomic append.

    NDJSON input (one event object per line) is streamed in constant memory, in atomic
    appends of --batch-size events each; a bad line stops the command, and the batches
    before it stay stored.
    """
    settings = settings_from(data, database_url)
    if batch_size > settings.max_batch_events:
        raise typer.BadParameter(
            f"at most {settings.max_batch_events} events fit in one append",
            param_hint="--batch-size",
        )
    editor = Editor(user_id=editor_user, service=editor_service)
    run(lambda: _append(settings, file, input_format, batch_size, editor, output, tenant))


async def _append(
    settings: Settings,
    file: str,
    input_format: InputFormat,
    batch_size: int,
    editor: Editor,
    output: Listing,
    tenant: str,
) -> None:
    table = EventTable(console(), brief=True) if output is Listing.table else None
    stored = 0
    with reading(file) as source:
        if file == "-" and sys.stdin.isatty():
            say("reading events from stdin; end with Ctrl-D")
        async with await Chronik.open(settings) as chronik:
            tenant_id = (await tenant_of(chronik, tenant)).id
            lines: list[int] = []
            try:
                for batch in appends(source, input_format, batch_size):
                    lines = batch.lines
                    events = await chronik.events.append(
                        tenant_id,
                        batch.events,
                        expected=batch.expected,
                        request_id=batch.request_id,
                        editor=editor,
                    )
                    lines = []
                    stored += len(events)
                    if table is None:
                        write(ndjson(events))
                    else:
                        table.print(events)
            except ChronikError as exc:
                message = located(exc, lines)
                if stored:
                    message += f" (the {counted(stored)} before it are stored)"
                raise type(exc)(message, **exc.details) from None
    say(f"appended {counted(stored)}")


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time, e.g. 2024-05-01T12:00:00Z"
        ) from None


def search(
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", metavar="TYPE", help="Event type; repeat for any of several."),
    ] = None,
    aggregate_type: Annotated[
        list[str] | None,
        typer.Option(metavar="TYPE", help="Aggregate type; repeat for any of several."),
    ] = None,
    aggregate_id: Annotated[str, typer.Option(metavar="ID", help="Aggregate id.")] = "",
    editor_user: Annotated[str, typer.Option(metavar="ID", help="Editor user id.")] = "",
    resource_owner: Annotated[
        str, typer.Option(metavar="ID", help="Resource owner (organisation) id.")
    ] = "",
    correlation_id: Annotated[
        str, typer.Option(metavar="ID", help="Only events appended with this correlation id.")
    ] = "",
    sequence: Annotated[
        int,
        typer.Option(min=0, metavar="N", help="Only after N with --asc, only before N otherwise."),
    ] = 0,
    limit: Annotated[
        int, typer.Option(min=0, metavar="N", help="Events per page (0: the default, 1000).")
    ] = 0,
    asc: Annotated[
        bool | None, typer.Option("--asc/--desc", help="Oldest first (default: newest first).")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(metavar="TIME", parser=_timestamp, help="Created at or after TIME."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(metavar="TIME", parser=_timestamp, help="Created before TIME."),
    ] = None,
    creation_date: Annotated[
        datetime | None,
        typer.Option(
            metavar="TIME",
            parser=_timestamp,
            help="Created after TIME with --asc, before it otherwise (not with --since/--until).",
        ),
    ] = None,
    paging_token: Annotated[
        str,
        typer.Option(
            metavar="TOKEN",
            help="Continue a search after the page this token came with; it carries the "
            "filters, so give none.",
        ),
    ] = "",
    output: Annotated[
        Output,
        typer.Option(
            "--output",
            "-o",
            help='json: {"events": [...], "pagingToken": ...}; ndjson: one event per line.',
        ),
    ] = Output.table,
    system: Annotated[
        bool,
        typer.Option("--system", help="Also Chronik's own records (aggregate types chronik.…)."),
    ] = False,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Search the events of a tenant, one page at a time (times are ISO 8601).

    The token of the next page goes to stderr (in the json envelope with --output json).
    """
    query = EventQuery(
        sequence=sequence,
        limit=limit,
        asc=bool(asc),
        editor_user_id=editor_user,
        event_types=tuple(event_type or ()),
        aggregate_id=aggregate_id,
        aggregate_types=tuple(aggregate_type or ()),
        resource_owner=resource_owner,
        correlation_id=correlation_id,
        creation_date=creation_date,
        since=since,
        until=until,
        system=system,
    )
    if paging_token and (query != EventQuery(system=system) or asc is not None):
        raise typer.BadParameter(
            "the token carries the filters of its search: give no filter with it",
            param_hint="--paging-token",
        )
    settings = settings_from(data, database_url)
    run(lambda: _search(settings, tenant, query, paging_token, output))


async def _search(
    settings: Settings, tenant: str, query: EventQuery, paging_token: str, output: Output
) -> None:
    async with await Chronik.open(settings) as chronik:
        tenant_id = (await tenant_of(chronik, tenant)).id
        if paging_token:
            page = await chronik.events.next_page(tenant_id, paging_token)
        else:
            page = await chronik.events.search(tenant_id, query)
    if output is Output.json:
        write(json_document({"events": page.events, "pagingToken": page.paging_token}))
        return
    if output is Output.ndjson:
        write(ndjson(page.events))
    elif page.events:
        EventTable(console()).print(page.events)
    else:
        nothing("events")
    say(f"next page: --paging-token {page.paging_token}")


def tail(
    after: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="N",
            help="Start after sequence N (default: the current head, so only new events).",
        ),
    ] = None,
    from_start: Annotated[bool, typer.Option(help="Start at the first event.")] = False,
    count: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Exit after N events.")
    ] = None,
    all_tenants: Annotated[bool, typer.Option(help="Follow the events of every tenant.")] = False,
    output: Annotated[
        Stream,
        typer.Option("--output", "-o", help="ndjson: one event per line; or table rows."),
    ] = Stream.ndjson,
    system: Annotated[
        bool,
        typer.Option("--system", help="Also Chronik's own records (aggregate types chronik.…)."),
    ] = False,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Print events as they commit, in sequence order, until Ctrl-C (exit code 0).

    Every event is printed exactly once; events committed by other processes show up within
    the poll interval (at once on PostgreSQL, which notifies).
    """
    if from_start and after is not None:
        raise typer.BadParameter("give --after or --from-start, not both", param_hint="--after")
    if all_tenants and tenant:
        raise typer.BadParameter("give --tenant or --all-tenants, not both", param_hint="--tenant")
    settings = settings_from(data, database_url)
    start = 0 if from_start else after
    run(lambda: _tail(settings, tenant, all_tenants, start, count, output, system), interrupted=0)


async def _tail(
    settings: Settings,
    tenant: str,
    all_tenants: bool,
    after: int | None,
    count: int | None,
    output: Stream,
    system: bool,
) -> None:
    table = EventTable(console(), tenants=all_tenants) if output is Stream.table else None
    async with await Chronik.open(settings) as chronik:
        tenant_id = None if all_tenants else (await tenant_of(chronik, tenant)).id
        start: int | dict[str, int]
        if after is not None:
            start = after
            say(f"following events after sequence {after}; Ctrl-C stops")
        elif tenant_id is None:
            start = await chronik.events.heads()
            say("following every tenant's new events; Ctrl-C stops")
        else:
            start = await chronik.events.head(tenant_id)
            say(f"following events after sequence {start}; Ctrl-C stops")
        remaining = count
        async with aclosing(chronik.events.follow_batches(tenant_id, after=start)) as batches:
            async for batch in batches:
                if not system:
                    batch = [e for e in batch if not reserved(e.aggregate_type)]
                    if not batch:
                        continue
                if remaining is not None:
                    batch = batch[:remaining]
                    remaining -= len(batch)
                if table is None:
                    write(ndjson(batch))
                else:
                    table.print(batch)
                if remaining == 0:
                    return
