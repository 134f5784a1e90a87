"""``chronik schedules create | list | show | pause | resume | delete | failed |
resume-failed | delete-failed``: schedules of a tenant, fired by ``chronik serve`` and
``chronik worker``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantOption,
    run,
    say,
    settings_from,
    tenant_of,
)
from chronik.cli.output import Listing, ListingOption, json_document, listing, write
from chronik.errors import InvalidArgument
from chronik.records import Schedule, TimeRule
from chronik.schedules import Schedules
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="The schedule's name.", show_default=False)
]
GroupOption = Annotated[str, typer.Option("--group", help="The schedule's group.")]


async def _with(
    settings: Settings, tenant: str, work: Callable[[Schedules, str], Awaitable[None]]
) -> None:
    async with await Chronik.open(settings) as chronik:
        await work(chronik.schedules, (await tenant_of(chronik, tenant)).id)


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"--at {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create(
    name: NameArgument,
    event_type: Annotated[str, typer.Option(help="The type of the event each firing appends.")],
    at: Annotated[
        str, typer.Option(help="Once at this time (ISO 8601; or the start of --every).")
    ] = "",
    every: Annotated[float, typer.Option(help="Every this many seconds.", min=0.0)] = 0.0,
    cron: Annotated[str, typer.Option(help="By this cron expression.")] = "",
    time_zone: Annotated[str, typer.Option(help="The time zone of --cron.")] = "UTC",
    repeat: Annotated[
        int, typer.Option(help="Fire at most this many times (0: no limit).", min=0)
    ] = 0,
    group: GroupOption = "DEFAULT",
    policy: Annotated[str, typer.Option(help="The policy (aggregate id) it belongs to.")] = "",
    transaction: Annotated[str, typer.Option(help="A transaction locator to keep.")] = "",
    payload: Annotated[str, typer.Option(help="The event's payload, a JSON object.")] = "{}",
    misfire: Annotated[str, typer.Option(help="fire_once_now or skip_to_next.")] = "fire_once_now",
    allow_past: Annotated[
        bool,
        typer.Option(
            "--allow-past", help="Accept an --at in the past: the schedule fires at once."
        ),
    ] = False,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Create a schedule: give one of --at, --every (from --at, default now) or --cron.

    An --at in the past is refused unless --allow-past is given: a mistyped date would
    otherwise fire at once.
    """

    async def make(schedules: Schedules, tenant_id: str) -> None:
        start = _time(at) if at else None
        if start is not None and start < datetime.now(UTC) and not allow_past:
            raise InvalidArgument(
                f"--at {at} is in the past, so the schedule would fire at once: give a later "
                "time, or --allow-past to fire it now"
            )
        kinds = [k for k, given in (("cron", cron), ("interval", every)) if given]
        if len(kinds) > 1:
            raise InvalidArgument("give one of --every and --cron")
        kind = kinds[0] if kinds else "once"
        try:
            body = json.loads(payload)
        except ValueError:
            raise InvalidArgument("--payload is not JSON") from None
        if not isinstance(body, dict):
            raise InvalidArgument("--payload must be a JSON object")
        rule = TimeRule(
            kind=kind,
            at=start,
            every_seconds=every or None,
            cron=cron or None,
            time_zone=time_zone,
            repeat_limit=repeat or None,
        )
        created = await schedules.create(
            Schedule(
                tenant_id=tenant_id,
                name=name,
                group=group,
                event_type=event_type,
                payload=body,
                policy_locator=policy or None,
                transaction_locator=transaction or None,
                rule=rule,
                misfire=misfire,
            )
        )
        when = created.next_fire_at.isoformat() if created.next_fire_at else "never"
        say(f"created schedule {group}/{name}; it fires next at {when}")

    run(lambda: _with(settings_from(data, database_url), tenant, make))


def _row(s: Schedule, state: str) -> dict[str, Any]:
    return {
        "group": s.group,
        "name": s.name,
        "event_type": s.event_type,
        "rule": s.rule,
        "state": state,
        "next_fire_at": s.next_fire_at,
        "fired": s.fired,
        "missed": s.missed,
        "policy_locator": s.policy_locator,
    }


def _rule(rule: TimeRule) -> str:
    return rule.cron or (f"every {rule.every_seconds:g}s" if rule.every_seconds else "once")


def list_(
    group: Annotated[str, typer.Option(help="Only this group's.")] = "",
    policy: Annotated[str, typer.Option(help="Only this policy's.")] = "",
    output: ListingOption = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List schedules with their state and next fire time."""

    async def show(schedules: Schedules, tenant_id: str) -> None:
        found = await schedules.find_all(
            tenant_id, group=group or None, policy_locator=policy or None
        )
        if output is Listing.json:
            write(json_document([_row(s, schedules.state_of(s)) for s in found]))
            return
        listing(
            ("group", "name", "event type", "rule", "state", "next fire", "fired"),
            (
                (
                    s.group,
                    s.name,
                    s.event_type,
                    _rule(s.rule),
                    schedules.state_of(s),
                    s.next_fire_at.isoformat() if s.next_fire_at else "-",
                    str(s.fired),
                )
                for s in found
            ),
            empty="schedules",
        )

    run(lambda: _with(settings_from(data, database_url), tenant, show))


def _one(action: str, done: str, doc: str) -> Callable[..., None]:
    def command(
        name: NameArgument,
        group: GroupOption = "DEFAULT",
        tenant: TenantOption = "",
        data: DataOption = DEFAULT_DATA_DIR,
        database_url: DatabaseUrlOption = "",
    ) -> None:
        async def act(schedules: Schedules, tenant_id: str) -> None:
            found = await getattr(schedules, action)(tenant_id, group, name)
            if action == "get":
                write(json_document(_row(found, schedules.state_of(found))))
            else:
                say(f"{done} {group}/{name}")

        run(lambda: _with(settings_from(data, database_url), tenant, act))

    command.__doc__ = doc
    return command


show = _one("get", "", "Show one schedule as JSON.")
pause = _one("pause", "paused", "Pause a schedule.")
resume = _one(
    "resume", "resumed", "Resume a paused schedule (missed fire times follow its misfire policy)."
)
delete = _one("delete", "deleted", "Delete a schedule and its failed job.")
resume_failed = _one(
    "resume_failed", "resumed the failed job of", "Resume a failed job: back to NORMAL, fire now."
)
delete_failed = _one(
    "delete_failed",
    "deleted the failed job of",
    "Delete a failed job; the schedule stays as it is.",
)


def failed(
    state: Annotated[str, typer.Option(help="queued or quit.")] = "",
    output: ListingOption = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List failed jobs with their last error."""

    async def show(schedules: Schedules, tenant_id: str) -> None:
        jobs = await schedules.failed_jobs(tenant_id, state=state or None, count=1000)
        if output is Listing.json:
            write(json_document(jobs))
            return
        listing(
            ("group", "name", "state", "failures", "updated", "error"),
            (
                (j.group, j.name, j.state, str(j.failure_count), j.updated_at.isoformat(), j.error)
                for j in jobs
            ),
            empty="failed jobs",
        )

    run(lambda: _with(settings_from(data, database_url), tenant, show))
