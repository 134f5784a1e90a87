"""``chronik actions create | list | update | deactivate | reactivate | delete | runs |
test``: the JavaScript actions of an organisation of a tenant, and what their runs did."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import msgspec
import typer

from chronik.actions import ActionQuery, Actions, NameQuery, Run
from chronik.actions.model import MAX_TIMEOUT, Action
from chronik.actions.search import TEXT_METHODS, TextMethod
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
from chronik.cli.output import (
    DocumentOption,
    Listing,
    ListingOption,
    console,
    json_document,
    listing,
    nothing,
    show,
    table,
    write,
)
from chronik.errors import InvalidArgument
from chronik.records import ActionRun
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings

T = TypeVar("T")

OrganisationOption = Annotated[
    str,
    typer.Option(
        "--organisation",
        "--org",
        metavar="ID",
        help="The organisation whose actions these are (default: that of tokens without one).",
    ),
]
ActionArgument = Annotated[
    str, typer.Argument(metavar="ID_OR_NAME", help="The action's id or exact name.")
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        min=0.0, max=MAX_TIMEOUT, metavar="SECONDS", help="How long a run may take (0: 20)."
    ),
]


class Method(StrEnum):
    """How ``--name`` matches."""

    equals = "equals"
    equals_ignore_case = "equals_ignore_case"
    starts_with = "starts_with"
    starts_with_ignore_case = "starts_with_ignore_case"
    contains = "contains"
    contains_ignore_case = "contains_ignore_case"
    ends_with = "ends_with"
    ends_with_ignore_case = "ends_with_ignore_case"


_METHODS: dict[Method, TextMethod] = {Method(m.lower()): m for m in TEXT_METHODS}


class State(StrEnum):
    active = "active"
    inactive = "inactive"


class Outcome(StrEnum):
    succeeded = "succeeded"
    failed = "failed"
    rejected = "rejected"
    timed_out = "timed_out"
    out_of_memory = "out_of_memory"
    crashed = "crashed"


async def with_actions(
    settings: Settings, tenant: str, work: Callable[[Actions, str], Awaitable[T]]
) -> T:
    async with await Chronik.open(settings) as chronik:
        return await work(chronik.actions, (await tenant_of(chronik, tenant)).id)


def _text(path: str, what: str) -> str:
    """The UTF-8 text of ``path`` (``-``: stdin)."""
    if path == "-" and sys.stdin.isatty():
        say(f"reading {what} from stdin; end with Ctrl-D")
    with reading(path) as source:
        data = source.read()
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{what} {path}: not UTF-8 text") from None


def _object(path: str, option: str) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(_text(path, option))
    except msgspec.DecodeError as exc:
        raise InvalidArgument(f"{option} {path}: malformed JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{option} {path}: must be a JSON object")
    return value


def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A name unique in the organisation.")],
    script: Annotated[
        str,
        typer.Option(
            metavar="FILE",
            help="The JavaScript (- for stdin); it defines a function named like the action.",
        ),
    ],
    timeout: TimeoutOption = 0.0,
    allowed_to_fail: Annotated[
        bool, typer.Option(help="A failure of the action does not stop its flow.")
    ] = False,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Create an action and print its id (only the id, on stdout, for scripts)."""

    async def make(actions: Actions, tenant_id: str) -> None:
        created = await actions.create(
            tenant_id,
            organisation,
            name=name,
            script=_text(script, "the script"),
            timeout=timeout,
            allowed_to_fail=allowed_to_fail,
        )
        write(f"{created.id}\n".encode())
        say(f"created action {created.name!r}")

    run(lambda: with_actions(settings_from(data, database_url), tenant, make))


def list_(
    name: Annotated[str, typer.Option(metavar="TEXT", help="Only those whose name matches.")] = "",
    method: Annotated[Method, typer.Option(help="How --name matches.")] = Method.contains,
    state: Annotated[State | None, typer.Option(help="Only active or inactive ones.")] = None,
    output: ListingOption = Listing.table,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List the actions of an organisation by name."""
    names = (NameQuery(name=name, method=_METHODS[method]),) if name else ()
    states = (state.upper(),) if state else ()

    async def find(actions: Actions, tenant_id: str) -> list[Action]:
        found: list[Action] = []
        while True:
            query = ActionQuery(
                offset=len(found), asc=True, sorting_column="NAME", names=names, states=states
            )
            page = await actions.search(tenant_id, organisation, query)
            found += page.actions
            if not page.actions or len(found) >= page.total:
                return found

    found = run(lambda: with_actions(settings_from(data, database_url), tenant, find))
    if output is Listing.json:
        write(json_document(found))
        return
    listing(
        ("id", "name", "state", "timeout", "allowed to fail"),
        (
            (a.id, a.name, a.state, f"{a.timeout:g}s", "yes" if a.allowed_to_fail else "no")
            for a in found
        ),
        empty="actions",
    )


def update(
    action: ActionArgument,
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="A new name.", show_default=False)
    ] = None,
    script: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="A new script (- for stdin).", show_default=False),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=MAX_TIMEOUT,
            metavar="SECONDS",
            help="How long a run may take (0: 20).",
            show_default=False,
        ),
    ] = None,
    allowed_to_fail: Annotated[
        bool | None,
        typer.Option(
            "--allowed-to-fail/--not-allowed-to-fail",
            help="Whether a failure of the action stops its flow.",
            show_default=False,
        ),
    ] = None,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Change an action: what is not given keeps its value."""

    async def change(actions: Actions, tenant_id: str) -> None:
        new_script = None if script is None else _text(script, "the script")
        current = await actions.find(tenant_id, organisation, action)
        changed = await actions.update(
            tenant_id,
            organisation,
            current.id,
            name=current.name if name is None else name,
            script=current.script if new_script is None else new_script,
            timeout=current.timeout if timeout is None else timeout,
            allowed_to_fail=current.allowed_to_fail if allowed_to_fail is None else allowed_to_fail,
        )
        if changed.version == current.version:
            say(f"action {current.name!r} is unchanged")
        else:
            say(f"updated action {changed.name!r}")

    run(lambda: with_actions(settings_from(data, database_url), tenant, change))


def _one(method: str, done: str, doc: str) -> Callable[..., None]:
    def command(
        action: ActionArgument,
        organisation: OrganisationOption = "",
        tenant: TenantOption = "",
        data: DataOption = DEFAULT_DATA_DIR,
        database_url: DatabaseUrlOption = "",
    ) -> None:
        async def act(actions: Actions, tenant_id: str) -> None:
            found = await actions.find(tenant_id, organisation, action)
            await getattr(actions, method)(tenant_id, organisation, found.id)
            say(f"{done} action {found.name!r} ({found.id})")

        run(lambda: with_actions(settings_from(data, database_url), tenant, act))

    command.__doc__ = doc
    return command


deactivate = _one(
    "deactivate", "deactivated", "Deactivate an action: it stays bound to its triggers, unrun."
)
reactivate = _one("reactivate", "reactivated", "Reactivate an inactive action.")
delete = _one("delete", "deleted", "Delete an action: it leaves every trigger it was bound to.")


def _run_cells(r: ActionRun) -> list[str]:
    if r.firing:
        subject = f"firing {r.firing}"
    elif r.event_sequence is not None:
        subject = f"{r.event_type} #{r.event_sequence}"
    else:
        subject = r.event_type
    return [
        r.started_at.isoformat(),
        r.action_name,
        r.trigger_type,
        subject,
        r.outcome,
        f"{r.duration * 1000:.1f}",
        r.error,
    ]


def _log_lines(lines: Sequence[tuple[str, str]], dropped: int) -> list[str]:
    shown = [f"{level:<5}  {message}" for level, message in lines]
    if dropped:
        shown.append(f"... {counted(dropped, 'more line')} dropped")
    return shown


def _runs_table(found: Sequence[ActionRun], logs: bool) -> None:
    """One row per run; with ``logs`` each row is followed by its log lines (the rows are
    printed one by one at the widths of the whole table, so that they line up)."""
    out = console()
    columns = ("started at", "action", "trigger", "event", "outcome", "ms", "error")
    rows = [_run_cells(r) for r in found]
    widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    tables = [rows] if not logs else [[row] for row in rows]
    for n, chunk in enumerate(tables):
        grid = table(show_header=n == 0)
        for column, width in zip(columns, widths, strict=True):
            grid.add_column(
                column, justify="right" if column == "ms" else "left", min_width=width, no_wrap=logs
            )
        for row in chunk:
            grid.add_row(*row)
        show(grid, out)
        if logs:
            for line in _log_lines(found[n].logs, found[n].logs_dropped):
                out.print(f"    {line}")


def runs(
    action: Annotated[
        str, typer.Argument(metavar="ID_OR_NAME", help="Only this action's runs.")
    ] = "",
    outcome: Annotated[Outcome | None, typer.Option(help="Only runs that ended so.")] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="At most N runs.")] = 100,
    before: Annotated[
        str, typer.Option(metavar="RUN_ID", help="Only runs older than this one (-o json ids).")
    ] = "",
    logs: Annotated[bool, typer.Option(help="Show each run's log lines under it.")] = False,
    output: ListingOption = Listing.table,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List the execution records of actions, newest first (without ID_OR_NAME: those of
    every organisation of the tenant)."""

    async def find(actions: Actions, tenant_id: str) -> list[ActionRun]:
        action_id = (await actions.find(tenant_id, organisation, action)).id if action else None
        return await actions.runs(
            tenant_id,
            action_id=action_id,
            outcome=outcome.value if outcome else None,
            before=before or None,
            limit=limit,
        )

    found = run(lambda: with_actions(settings_from(data, database_url), tenant, find))
    if output is Listing.json:
        write(json_document(found))
    elif found:
        _runs_table(found, logs)
    else:
        nothing("runs")


def _test_table(result: Run) -> None:
    grid = table("", "", show_header=False)
    grid.add_row("outcome", result.outcome)
    if result.error:
        grid.add_row("error", result.error)
    grid.add_row("duration", f"{result.duration * 1000:.1f} ms")
    fields = msgspec.json.encode(result.fields).decode()
    grid.add_row("fields", fields)
    lines = _log_lines([(line.level, line.message) for line in result.logs], result.logs_dropped)
    for n, line in enumerate(lines):
        grid.add_row("logs" if n == 0 else "", line)
    show(grid)


def test(
    action: ActionArgument,
    event: Annotated[
        str,
        typer.Option(
            metavar="FILE",
            help="The sample event, ctx.event: a JSON object (type, aggregateType, aggregateId, "
            "resourceOwner, payload...); - for stdin.",
        ),
    ],
    firing: Annotated[
        str,
        typer.Option(
            metavar="FILE",
            help="A sample ctx.firing, as a schedule's firing gives it (group, name, dueAt, "
            "policyLocator).",
        ),
    ] = "",
    output: DocumentOption = Listing.table,
    organisation: OrganisationOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Run an action (active or not) on a sample event and show the outcome, the fields it
    set and its log lines; nothing is appended or recorded. Exit 1 unless it succeeded."""

    async def try_it(actions: Actions, tenant_id: str) -> Run:
        ctx: dict[str, Any] = {"event": _object(event, "--event")}
        if firing:
            ctx["firing"] = _object(firing, "--firing")
        found = await actions.find(tenant_id, organisation, action)
        return await actions.test(tenant_id, organisation, found.id, ctx=ctx)

    result = run(lambda: with_actions(settings_from(data, database_url), tenant, try_it))
    if output is Listing.json:
        write(json_document(result))
    else:
        _test_table(result)
    if result.outcome != Outcome.succeeded:
        reason = f": {result.error}" if result.error else ""
        say(f"error: the action did not succeed ({result.outcome}){reason}")
        raise typer.Exit(1)
