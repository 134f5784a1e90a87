"""``chronik views list | rows | reset | pause | resume``, ``chronik failed list | retry |
remove`` and ``chronik worker`` (the views of the installed packages, and the scheduler)."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantOption,
    ViewsOption,
    WebhookAllowedHostsOption,
    WebhookTimeoutOption,
    counted,
    run,
    say,
    settings_from,
    tenant_of,
)
from chronik.cli.output import (
    Listing,
    ListingOption,
    json_document,
    listing,
    nothing,
    show,
    table,
    write,
)
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings
from chronik.views import Row, Views, installed
from chronik.views.reading import MAX_PAGE_SIZE, MAX_WAIT_SECONDS

ViewArgument = Annotated[
    str, typer.Argument(metavar="VIEW", help="The view's name.", show_default=False)
]


async def _with_views(
    settings: Settings, tenant: str, work: Callable[[Views, str], Awaitable[None]]
) -> None:
    async with await Chronik.open(settings, views=installed(settings.views)) as chronik:
        await work(chronik.views, (await tenant_of(chronik, tenant)).id)


def list_(
    output: ListingOption = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
) -> None:
    """List the views with their position, lag, failed events and state.

    A view is running (on the node shown) while a server's or worker's lease on it is live,
    idle or paused otherwise."""

    async def show(service: Views, tenant_id: str) -> None:
        statuses = await service.statuses(tenant_id)
        if output is Listing.json:
            write(
                json_document(
                    [
                        {
                            "view": s.state.view,
                            "database": s.state.database,
                            "position": s.state.position,
                            "lag": s.lag,
                            "failed_events": s.failed,
                            "paused": s.state.paused,
                            "state": s.activity,
                            "node": s.node,
                            "event_at": s.state.event_at,
                            "last_run": s.state.last_run,
                        }
                        for s in statuses
                    ]
                )
            )
            return
        listing(
            ("database", "view", "position", "lag", "failed", "state", "node", "last run"),
            (
                (
                    s.state.database,
                    s.state.view,
                    str(s.state.position),
                    str(s.lag),
                    str(s.failed),
                    s.activity,
                    s.node or "-",
                    s.state.last_run.isoformat() if s.state.last_run else "-",
                )
                for s in statuses
            ),
            empty="views",
        )

    run(lambda: _with_views(settings_from(data, database_url, views), tenant, show))


def rows(
    view: ViewArgument,
    key: Annotated[
        str | None,
        typer.Argument(
            metavar="KEY", help="Only the row at this key (default: every row).", show_default=False
        ),
    ] = None,
    prefix: Annotated[
        str, typer.Option(metavar="TEXT", help="Only the rows whose keys start with TEXT.")
    ] = "",
    min_sequence: Annotated[
        int,
        typer.Option(
            min=0,
            metavar="N",
            help="Read once the view has processed sequence N (the one an append printed), "
            "waiting up to --wait-seconds; exit 1 if it has not by then.",
        ),
    ] = 0,
    wait_seconds: Annotated[
        float,
        typer.Option(
            min=0.0, max=MAX_WAIT_SECONDS, metavar="SECONDS", help="How long --min-sequence waits."
        ),
    ] = 5.0,
    page_size: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_PAGE_SIZE, metavar="N", help="Rows read at a time; all are printed."
        ),
    ] = 100,
    output: Annotated[
        Listing,
        typer.Option(
            "--output",
            "-o",
            help='table, for people; or json: an array of {"key", "value", "position"}, '
            "the one row with KEY.",
        ),
    ] = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
) -> None:
    """Print the rows a view wrote, ordered by key, or the one row at KEY.

    Each row comes with the view's position (the last sequence it had processed) that its
    value reflects; a table gives it on stderr. A KEY without a row exits 1.
    """
    if key is not None and prefix:
        raise typer.BadParameter("give KEY or --prefix, not both", param_hint="--prefix")

    async def one(service: Views, tenant_id: str) -> None:
        assert key is not None
        found = await service.row(
            tenant_id, view, key, min_sequence=min_sequence, wait_seconds=wait_seconds
        )
        _print_rows([found], output, single=True)

    async def every(service: Views, tenant_id: str) -> None:
        found: list[Row] = []
        token = None
        while True:
            page = await service.rows(
                tenant_id,
                view,
                prefix=prefix,
                page_size=page_size,
                paging_token=token,
                min_sequence=min_sequence,
                wait_seconds=wait_seconds,
            )
            found += page.rows
            if not page.paging_token:
                break
            token = page.paging_token
        _print_rows(found, output, single=False)

    settings = settings_from(data, database_url, views)
    run(lambda: _with_views(settings, tenant, every if key is None else one))


def _print_rows(found: list[Row], output: Listing, *, single: bool) -> None:
    if output is Listing.json:
        write(json_document(found[0] if single else found))
        return
    if not found:
        nothing("rows")
        return
    grid = table("key", "value")
    for r in found:
        grid.add_row(r.key, json_document(r.value).decode().rstrip("\n"))
    show(grid)
    positions = sorted({r.position for r in found})
    at = str(positions[0]) if len(positions) == 1 else f"{positions[0]} to {positions[-1]}"
    say(f"as of sequence {at}")


def _control(action: str, done: str, after: str = "") -> Callable[..., None]:
    def command(
        view: ViewArgument,
        tenant: TenantOption = "",
        data: DataOption = DEFAULT_DATA_DIR,
        database_url: DatabaseUrlOption = "",
        views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
    ) -> None:
        async def act(service: Views, tenant_id: str) -> None:
            await getattr(service, action)(tenant_id, view)
            say(f"{done} view {view!r}{after}")

        run(lambda: _with_views(settings_from(data, database_url, views), tenant, act))

    return command


reset = _control("reset", "reset", ": it rebuilds from sequence 0")
reset.__doc__ = "Rebuild a view from sequence 0; its rows and failed events are cleared."
pause = _control("pause", "paused")
pause.__doc__ = "Pause a view (it stops after its current batch)."
resume = _control("resume", "resumed")
resume.__doc__ = "Resume a paused view."


def failed_list(
    view: Annotated[str, typer.Option(help="Only this view's.")] = "",
    min_failures: Annotated[int, typer.Option(min=0, help="Only those failed this often.")] = 0,
    output: ListingOption = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
) -> None:
    """List the events views failed to process."""

    async def show(service: Views, tenant_id: str) -> None:
        found = await service.all_failed(tenant_id, view=view or None, min_failures=min_failures)
        if output is Listing.json:
            write(json_document(found))
            return
        listing(
            ("database", "view", "sequence", "failures", "last failed", "error"),
            (
                (
                    f.database,
                    f.view,
                    str(f.sequence),
                    str(f.failure_count),
                    f.last_failed.isoformat(),
                    f.error,
                )
                for f in found
            ),
            empty="failed events",
        )

    run(lambda: _with_views(settings_from(data, database_url, views), tenant, show))


def failed_retry(
    view: ViewArgument,
    sequence: Annotated[
        int | None,
        typer.Argument(min=1, metavar="SEQUENCE", help="The event's sequence (default: all)."),
    ] = None,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
) -> None:
    """Run failed events through their view again now (the running workers pick them up)."""

    async def retry(service: Views, tenant_id: str) -> None:
        count = await service.retry(tenant_id, view, sequence)
        say(f"{counted(count, 'failed event')} of {view!r} will be retried now")

    run(lambda: _with_views(settings_from(data, database_url, views), tenant, retry))


def failed_remove(
    view: ViewArgument,
    sequence: Annotated[
        int, typer.Argument(min=1, metavar="SEQUENCE", help="The event's sequence.")
    ],
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
) -> None:
    """Remove a failed event; a view that waits on it moves past it."""

    async def remove(service: Views, tenant_id: str) -> None:
        await service.remove_failed(tenant_id, view, sequence)
        say(f"removed failed event {sequence} of {view!r}")

    run(lambda: _with_views(settings_from(data, database_url, views), tenant, remove))


def worker(
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    views: ViewsOption = [],  # noqa: B006 - typer's way of a repeatable option
    lease_seconds: Annotated[
        float,
        typer.Option(
            min=0.5,
            help="How soon another node takes over a view this one stopped renewing.",
        ),
    ] = 10.0,
    schedule_lease_seconds: Annotated[
        float,
        typer.Option(
            min=0.5,
            help="How long this node may take to fire what it claimed before another node "
            "counts the firing as failed and retries it.",
        ),
    ] = 30.0,
    webhook_allowed_hosts: WebhookAllowedHostsOption = "",
    webhook_timeout: WebhookTimeoutOption = 5.0,
) -> None:
    """Run the views, fire due schedules and deliver webhooks, without the HTTP API.

    The views are those of the installed packages (entry points in the group chronik.views)
    and those --views names.

    Any number of workers (and servers) may run against one PostgreSQL database: each view
    of each tenant is processed by one of them at a time, and taken over by another within
    seconds when that one stops.
    """
    settings = dataclasses.replace(
        settings_from(
            data, database_url, views, create=True, webhook_allowed_hosts=webhook_allowed_hosts
        ),
        webhook_timeout_seconds=webhook_timeout,
        view_lease_seconds=lease_seconds,
        schedule_lease_seconds=schedule_lease_seconds,
    )
    run(lambda: _work(settings), interrupted=0)


async def _work(settings: Settings) -> None:
    registry = installed(settings.views)
    async with await Chronik.open(settings, views=registry) as chronik:
        await chronik.default_tenant()  # a database a worker creates is like one serve creates
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = chronik.start_views()
        chronik.start_scheduler()
        chronik.start_webhooks()
        running = counted(len(chronik.views.registry), "view")
        say(f"running {running} and the scheduler as {runner.owner}")
        await stop.wait()
        say("stopping")
