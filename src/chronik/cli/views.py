"""``chronik views list | reset | pause | resume``, ``chronik failed list | retry | remove``
and ``chronik worker`` (the views of the installed packages, and the scheduler)."""

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
    counted,
    run,
    say,
    settings_from,
    tenant_of,
)
from chronik.cli.output import Listing, ListingOption, json_document, listing, write
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings
from chronik.views import Views, installed

ViewArgument = Annotated[str, typer.Argument(help="The view's name.", show_default=False)]


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
        int | None, typer.Argument(min=1, help="The event's sequence (default: all).")
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
    sequence: Annotated[int, typer.Argument(min=1, help="The event's sequence.")],
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
) -> None:
    """Run the views and fire due schedules, without the HTTP API.

    The views are those of the installed packages (entry points in the group chronik.views)
    and those --views names.

    Any number of workers (and servers) may run against one PostgreSQL database: each view
    of each tenant is processed by one of them at a time, and taken over by another within
    seconds when that one stops.
    """
    settings = dataclasses.replace(
        settings_from(data, database_url, views, create=True),
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
        running = counted(len(chronik.views.registry), "view")
        say(f"running {running} and the scheduler as {runner.owner}")
        await stop.wait()
        say("stopping")
