"""``chronik webhooks create | list | show | update | unsuspend | delete | diverted | resend |
delete-diverted``: the webhooks of a tenant, delivered by ``chronik serve`` and ``chronik
worker``, and the events they diverted.

A webhook's secret is printed by ``create`` only (and by an ``update`` that makes a new one);
``show`` and ``list`` leave it out. The commands that reach an endpoint's address (``create``
and ``update`` check it, ``resend`` delivers) take the operator's ``--webhook-allowed-hosts``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any

import msgspec
import typer

from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantOption,
    WebhookAllowedHostsOption,
    run,
    say,
    settings_from,
    tenant_of,
)
from chronik.cli.output import (
    DocumentOption,
    Listing,
    ListingOption,
    json_document,
    listing,
    show,
    table,
    write,
)
from chronik.errors import InvalidArgument
from chronik.records import Endpoint, FailureHandling, RetryStrategy, Webhook, WebhookDefinition
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings
from chronik.webhooks import WebhookChange, Webhooks, WebhookStatus
from chronik.webhooks.service import MAX_PER_TENANT


class Pattern(StrEnum):
    """How the interval between retries grows."""

    linear = "linear"
    exponential = "exponential"


LocatorArgument = Annotated[
    str, typer.Argument(metavar="LOCATOR", help="The webhook's locator.", show_default=False)
]
EventArgument = Annotated[
    str,
    typer.Argument(
        metavar="EVENT_LOCATOR", help="The diverted event's locator.", show_default=False
    ),
]
NameOption = Annotated[
    str | None, typer.Option(metavar="NAME", help="The webhook's name.", show_default=False)
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        metavar="URL", help="Where events are POSTed: an http or https URL.", show_default=False
    ),
]
EventTypesOption = Annotated[
    list[str],
    typer.Option(
        "--event-type",
        metavar="TYPE",
        help="Deliver events of this type (repeatable; none: every type).",
        show_default=False,
    ),
]
HmacOption = Annotated[
    bool | None,
    typer.Option(
        "--hmac/--no-hmac",
        help="Sign deliveries (Standard Webhooks); a secret is made unless --secret gives one.",
        show_default=False,
    ),
]
SecretOption = Annotated[
    str | None,
    typer.Option(
        metavar="whsec_...",
        help="The signing secret: whsec_ and the base64 of 24 to 64 bytes (implies --hmac).",
        show_default=False,
    ),
]
HeadersOption = Annotated[
    list[str],
    typer.Option(
        "--header",
        metavar="'NAME: VALUE'",
        help="A header sent with every delivery (repeatable).",
        show_default=False,
    ),
]
TriggersOption = Annotated[
    list[str],
    typer.Option(
        "--trigger",
        metavar="TRIGGER",
        help="A failure handled as one: 4xx, 5xx, timeout or a status such as 503 "
        "(repeatable; default 4xx, 5xx and timeout).",
        show_default=False,
    ),
]
RetriesOption = Annotated[
    int | None,
    typer.Option(
        metavar="N", min=1, max=10, help="Retries after the first attempt.", show_default=False
    ),
]
IntervalOption = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS", min=0.0, help="Seconds before the first retry.", show_default=False
    ),
]
PatternOption = Annotated[
    Pattern | None,
    typer.Option(help="linear keeps the interval, exponential doubles it.", show_default=False),
]
DivertOption = Annotated[
    bool | None,
    typer.Option(
        "--divert/--no-divert",
        help="Keep an event that failed for good, to resend it later.",
        show_default=False,
    ),
]
SuspendOption = Annotated[
    bool | None,
    typer.Option(
        "--suspend/--no-suspend",
        help="Stop delivering at an event that failed for good, until unsuspended.",
        show_default=False,
    ),
]
AlertOption = Annotated[
    str | None,
    typer.Option(
        "--alert-url", metavar="URL", help="Where failures are reported.", show_default=False
    ),
]


async def _with(
    settings: Settings, tenant: str, work: Callable[[Webhooks, str], Awaitable[None]]
) -> None:
    async with await Chronik.open(settings) as chronik:
        await work(chronik.webhooks, (await tenant_of(chronik, tenant)).id)


def _headers(given: list[str]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for text in given:
        name, colon, value = text.partition(":")
        if not colon or not name.strip():
            raise InvalidArgument(f"--header {text!r}: give it as 'Name: value'")
        headers.setdefault(name.strip(), []).append(value.strip())
    return headers


def _strategy(
    base: RetryStrategy | None,
    retries: int | None,
    interval: float | None,
    pattern: Pattern | None,
) -> RetryStrategy | None:
    """The retry strategy the options give, over ``base`` (or the defaults); None when they
    give none."""
    if retries is None and interval is None and pattern is None:
        return None
    base = base or RetryStrategy()
    return RetryStrategy(
        retries=base.retries if retries is None else retries,
        interval_seconds=base.interval_seconds if interval is None else interval,
        pattern=base.pattern if pattern is None else pattern.value,
    )


def _public(hook: Webhook, *, secret: bool = False) -> dict[str, Any]:
    """The webhook as JSON prints it; its secrets only when ``secret``."""
    record: dict[str, Any] = msgspec.to_builtins(hook)
    if not secret:
        definition = record["definition"]
        for endpoint in (definition["endpoint"], definition["failure_handling"]["alert_endpoint"]):
            if endpoint is not None:
                endpoint.pop("secret", None)
    return record


def _status(status: WebhookStatus) -> dict[str, Any]:
    retrying = status.retrying
    return {
        "position": status.position,
        "head": status.head,
        "lag": status.lag,
        "retrying": None
        if retrying is None
        else {
            "sequence": retrying.sequence,
            "failures": retrying.failure_count,
            "last_failed": retrying.last_failed,
            "error": retrying.error,
        },
        "diverted": status.diverted,
        "node": status.node,
    }


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _retries(strategy: RetryStrategy | None) -> str:
    if strategy is None:
        return "none"
    return f"{strategy.retries}, {strategy.pattern} from {strategy.interval_seconds:g}s"


def _card(hook: Webhook, *, secret: bool = False, status: WebhookStatus | None = None) -> None:
    """One webhook as a two-column table, for people."""
    d = hook.definition
    handling = d.failure_handling
    endpoint = d.endpoint
    rows = [
        ("locator", hook.locator),
        ("name", d.name),
        ("enabled", _yes(d.enabled)),
        ("suspended", hook.suspended_at.isoformat() if hook.suspended_at else "no"),
        ("url", endpoint.url),
        ("hmac", _yes(endpoint.hmac_enabled)),
    ]
    if secret and endpoint.secret:
        rows.append(("secret", endpoint.secret))
    rows += [
        ("headers", "; ".join(f"{n}: {v}" for n, vs in endpoint.headers.items() for v in vs)),
        ("event types", ", ".join(d.event_types) or "all"),
        ("triggers", ", ".join(handling.triggers)),
        ("retries", _retries(handling.retry_strategy)),
        ("divert", _yes(handling.divert)),
        ("suspend", _yes(handling.suspend)),
        ("alert url", handling.alert_endpoint.url if handling.alert_endpoint else "-"),
        ("created", hook.created_at.isoformat()),
        ("updated", hook.updated_at.isoformat()),
    ]
    if status is not None:
        retrying = status.retrying
        rows += [
            ("position", str(status.position)),
            ("head", str(status.head)),
            ("lag", str(status.lag)),
            (
                "retrying",
                f"#{retrying.sequence}, {retrying.failure_count} failures: {retrying.error}"
                if retrying
                else "-",
            ),
            ("diverted", str(status.diverted)),
            ("node", status.node or "-"),
        ]
    grid = table("", "", show_header=False)
    for row in rows:
        grid.add_row(*row)
    show(grid)


def _print(hook: Webhook, output: Listing, *, secret: bool = False) -> None:
    if output is Listing.json:
        write(json_document(_public(hook, secret=secret)))
    else:
        _card(hook, secret=secret)


def create(
    name: Annotated[
        str, typer.Option(metavar="NAME", help="The webhook's name.", show_default=False)
    ],
    url: Annotated[
        str,
        typer.Option(
            metavar="URL", help="Where events are POSTed: an http or https URL.", show_default=False
        ),
    ],
    event_type: EventTypesOption = [],  # noqa: B006 - typer's way of a repeatable option
    hmac: HmacOption = None,
    secret: SecretOption = None,
    header: HeadersOption = [],  # noqa: B006
    trigger: TriggersOption = [],  # noqa: B006
    retries: RetriesOption = None,
    interval: IntervalOption = None,
    pattern: PatternOption = None,
    divert: DivertOption = None,
    suspend: SuspendOption = None,
    alert_url: AlertOption = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Create it disabled: it delivers nothing yet.")
    ] = False,
    output: DocumentOption = Listing.table,
    webhook_allowed_hosts: WebhookAllowedHostsOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Create a webhook: the events appended from now on are POSTed to --url.

    Without --retries, --divert or --suspend a failed delivery is dropped and the next event
    goes. The signing secret is printed now and never again.
    """

    async def make(webhooks: Webhooks, tenant_id: str) -> None:
        handling = FailureHandling(
            retry_strategy=_strategy(None, retries, interval, pattern),
            alert_endpoint=Endpoint(url=alert_url) if alert_url else None,
            divert=bool(divert),
            suspend=bool(suspend),
        )
        if trigger:
            handling = msgspec.structs.replace(handling, triggers=tuple(trigger))
        definition = WebhookDefinition(
            name=name,
            enabled=not disabled,
            endpoint=Endpoint(
                url=url,
                hmac_enabled=bool(secret) if hmac is None else hmac,
                secret=secret or None,
                headers=_headers(header),
            ),
            failure_handling=handling,
            event_types=tuple(event_type),
        )
        hook = await webhooks.create(tenant_id, definition)
        _print(hook, output, secret=True)
        say(f"created webhook {hook.locator} ({name!r})")

    settings = settings_from(data, database_url, webhook_allowed_hosts=webhook_allowed_hosts)
    run(lambda: _with(settings, tenant, make))


def list_(
    output: ListingOption = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List the webhooks, oldest first, with how far each lags behind the log."""

    async def find(webhooks: Webhooks, tenant_id: str) -> None:
        hooks, _ = await webhooks.find(tenant_id, count=MAX_PER_TENANT)
        statuses = [await webhooks.status(tenant_id, h.locator) for h in hooks]
        if output is Listing.json:
            write(json_document([_public(s.webhook) | {"lag": s.lag} for s in statuses]))
            return
        listing(
            ("locator", "name", "enabled", "suspended", "url", "event types", "lag"),
            (
                (
                    s.webhook.locator,
                    s.webhook.definition.name,
                    _yes(s.webhook.definition.enabled),
                    _yes(s.webhook.suspended_at is not None),
                    s.webhook.definition.endpoint.url,
                    ", ".join(s.webhook.definition.event_types) or "all",
                    str(s.lag),
                )
                for s in statuses
            ),
            empty="webhooks",
        )

    run(lambda: _with(settings_from(data, database_url), tenant, find))


def show_(
    locator: LocatorArgument,
    output: DocumentOption = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Show a webhook and where its delivery stands: position, lag, the event it retries,
    its diverted events and the node delivering it."""

    async def read(webhooks: Webhooks, tenant_id: str) -> None:
        status = await webhooks.status(tenant_id, locator)
        if output is Listing.json:
            write(json_document(_public(status.webhook) | {"status": _status(status)}))
        else:
            _card(status.webhook, status=status)

    run(lambda: _with(settings_from(data, database_url), tenant, read))


def update(
    locator: LocatorArgument,
    name: NameOption = None,
    url: UrlOption = None,
    event_type: EventTypesOption = [],  # noqa: B006 - typer's way of a repeatable option
    add_event_type: Annotated[
        list[str], typer.Option(metavar="TYPE", help="Deliver this type too (repeatable).")
    ] = [],  # noqa: B006
    remove_event_type: Annotated[
        list[str], typer.Option(metavar="TYPE", help="Stop delivering this type (repeatable).")
    ] = [],  # noqa: B006
    hmac: HmacOption = None,
    secret: SecretOption = None,
    header: Annotated[
        list[str],
        typer.Option(
            "--header",
            metavar="'NAME: VALUE'",
            help="Replace the headers sent with every delivery by these (repeatable).",
        ),
    ] = [],  # noqa: B006
    trigger: Annotated[
        list[str],
        typer.Option("--trigger", metavar="TRIGGER", help="Replace the triggers (repeatable)."),
    ] = [],  # noqa: B006
    add_trigger: Annotated[
        list[str], typer.Option(metavar="TRIGGER", help="Add a trigger (repeatable).")
    ] = [],  # noqa: B006
    remove_trigger: Annotated[
        list[str], typer.Option(metavar="TRIGGER", help="Remove a trigger (repeatable).")
    ] = [],  # noqa: B006
    retries: RetriesOption = None,
    interval: IntervalOption = None,
    pattern: PatternOption = None,
    no_retries: Annotated[
        bool, typer.Option("--no-retries", help="Retry no more: a failure is final at once.")
    ] = False,
    divert: DivertOption = None,
    suspend: SuspendOption = None,
    alert_url: AlertOption = None,
    no_alert: Annotated[bool, typer.Option("--no-alert", help="Report failures no more.")] = False,
    enabled: Annotated[
        bool | None,
        typer.Option("--enabled/--disabled", help="Deliver, or not.", show_default=False),
    ] = None,
    output: DocumentOption = Listing.table,
    webhook_allowed_hosts: WebhookAllowedHostsOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Change what is given; the rest keeps its value.

    --event-type, --trigger and --header replace what the webhook has; --add-... and
    --remove-... change it one by one. A new secret (--secret, or --hmac on a webhook that
    had none) is printed now and never again.
    """
    strategy_given = retries is not None or interval is not None or pattern is not None
    if strategy_given and no_retries:
        raise typer.BadParameter("give --no-retries or --retries/--interval/--pattern, not both")
    if alert_url and no_alert:
        raise typer.BadParameter("give --no-alert or --alert-url, not both")
    lists = (event_type, add_event_type, remove_event_type, header, trigger)
    given = any(lists) or any((add_trigger, remove_trigger, secret, no_retries, no_alert))
    given = given or any(
        v is not None
        for v in (name, url, hmac, retries, interval, pattern, divert, suspend, alert_url, enabled)
    )

    async def change(webhooks: Webhooks, tenant_id: str) -> None:
        hook = await webhooks.get(tenant_id, locator)
        if not given:
            raise InvalidArgument("nothing to change: give at least one option")
        handling = hook.definition.failure_handling
        endpoint: dict[str, Any] = {}
        if url is not None:
            endpoint["url"] = url
        if secret:
            endpoint["secret"] = secret
        if hmac is not None or secret:
            endpoint["hmac_enabled"] = True if hmac is None else hmac
        if header:
            endpoint["headers"] = _headers(header)
        asked = WebhookChange(
            name=name,
            enabled=enabled,
            endpoint=endpoint or None,
            add_triggers=[*trigger, *add_trigger],
            remove_triggers=[*(handling.triggers if trigger else ()), *remove_trigger],
            alert_endpoint=Endpoint(url=alert_url) if alert_url else None,
            remove_alert_endpoint=no_alert,
            retry_strategy=_strategy(handling.retry_strategy, retries, interval, pattern),
            remove_retry_strategy=no_retries,
            divert=divert,
            suspend=suspend,
            event_types=event_type or None,
            add_event_types=add_event_type,
            remove_event_types=remove_event_type,
        )
        changed = await webhooks.update(tenant_id, locator, asked)
        new_secret = changed.definition.endpoint.secret != hook.definition.endpoint.secret
        _print(changed, output, secret=new_secret)
        say(f"updated webhook {locator}")

    settings = settings_from(data, database_url, webhook_allowed_hosts=webhook_allowed_hosts)
    run(lambda: _with(settings, tenant, change))


def unsuspend(
    locator: LocatorArgument,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Deliver a suspended webhook again, from the event it stopped at."""

    async def act(webhooks: Webhooks, tenant_id: str) -> None:
        before = await webhooks.get(tenant_id, locator)
        await webhooks.unsuspend(tenant_id, locator)
        if before.suspended_at is None:
            say(f"webhook {locator} is not suspended")
        else:
            say(f"unsuspended webhook {locator}")

    run(lambda: _with(settings_from(data, database_url), tenant, act))


def delete(
    locator: LocatorArgument,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Delete a webhook with its position and diverted events."""

    async def act(webhooks: Webhooks, tenant_id: str) -> None:
        await webhooks.delete(tenant_id, locator)
        say(f"deleted webhook {locator}")

    run(lambda: _with(settings_from(data, database_url), tenant, act))


def diverted(
    locator: LocatorArgument,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (oldest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Show at most this many.")] = 100,
    output: ListingOption = Listing.table,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """List a webhook's diverted events, oldest first, with their last failure."""

    async def find(webhooks: Webhooks, tenant_id: str) -> None:
        found = await webhooks.diverted(tenant_id, locator, offset=offset, count=limit)
        if output is Listing.json:
            write(json_document(found))
            return
        listing(
            ("event", "sequence", "trigger", "failures", "last failure", "message"),
            (
                (
                    d.event_locator,
                    str(d.sequence),
                    d.failure_trigger,
                    str(d.failure_count),
                    d.failure_timestamp.isoformat(),
                    d.failure_message,
                )
                for d in found
            ),
            empty="diverted events",
        )

    run(lambda: _with(settings_from(data, database_url), tenant, find))


def resend(
    locator: LocatorArgument,
    event: EventArgument,
    webhook_allowed_hosts: WebhookAllowedHostsOption = "",
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Deliver a diverted event again, now.

    Taken, it is no longer diverted; refused, it stays, one failure more, and the command
    exits 1 with the endpoint's answer.
    """

    async def act(webhooks: Webhooks, tenant_id: str) -> None:
        await webhooks.resend(tenant_id, locator, event)
        say(f"resent event {event}: the endpoint took it")

    settings = settings_from(data, database_url, webhook_allowed_hosts=webhook_allowed_hosts)
    run(lambda: _with(settings, tenant, act))


def delete_diverted(
    locator: LocatorArgument,
    event: EventArgument,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Delete a diverted event: it is not delivered again."""

    async def act(webhooks: Webhooks, tenant_id: str) -> None:
        await webhooks.delete_diverted(tenant_id, locator, event)
        say(f"deleted diverted event {event} of webhook {locator}")

    run(lambda: _with(settings_from(data, database_url), tenant, act))
