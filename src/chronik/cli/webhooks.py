"""``chronik webhooks create | list | show | update | unsuspend | delete | diverted | resend |
delete-diverted``: the webhooks of a tenant, delivered by ``chronik serve`` and ``chronik
worker``, and the events they diverted.

A webhook's secret is printed by ``create`` only (and by an ``update`` that makes a new one);
``show`` and ``list`` leave it out. The commands that reach an endpoint's address (``create``
and ``update`` check it, ``resend`` delivers) take the operator's ``--webhook-allowed-hosts``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from chronik.cli.output import DocumentOption, Listing, ListingOption, json_document, listing, write
from chronik.cli.webhook_options import (
    AlertOption,
    DivertOption,
    EventArgument,
    EventTypesOption,
    HeadersOption,
    HmacOption,
    IntervalOption,
    LocatorArgument,
    NameOption,
    PatternOption,
    RetriesOption,
    SecretOption,
    SuspendOption,
    TriggersOption,
    UrlOption,
    headers,
    strategy,
)
from chronik.cli.webhook_output import card, printed, public, status_record, yes
from chronik.errors import InvalidArgument
from chronik.records import Endpoint, FailureHandling, WebhookDefinition
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings
from chronik.webhooks import WebhookChange, Webhooks
from chronik.webhooks.service import MAX_PER_TENANT


async def _with(
    settings: Settings, tenant: str, work: Callable[[Webhooks, str], Awaitable[None]]
) -> None:
    async with await Chronik.open(settings) as chronik:
        await work(chronik.webhooks, (await tenant_of(chronik, tenant)).id)


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
            retry_strategy=strategy(None, retries, interval, pattern),
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
                headers=headers(header),
            ),
            failure_handling=handling,
            event_types=tuple(event_type),
        )
        hook = await webhooks.create(tenant_id, definition)
        printed(hook, output, secret=True)
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
            write(json_document([public(s.webhook) | {"lag": s.lag} for s in statuses]))
            return
        listing(
            ("locator", "name", "enabled", "suspended", "url", "event types", "lag"),
            (
                (
                    s.webhook.locator,
                    s.webhook.definition.name,
                    yes(s.webhook.definition.enabled),
                    yes(s.webhook.suspended_at is not None),
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
            write(json_document(public(status.webhook) | {"status": status_record(status)}))
        else:
            card(status.webhook, status=status)

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
            endpoint["headers"] = headers(header)
        asked = WebhookChange(
            name=name,
            enabled=enabled,
            endpoint=endpoint or None,
            add_triggers=[*trigger, *add_trigger],
            remove_triggers=[*(handling.triggers if trigger else ()), *remove_trigger],
            alert_endpoint=Endpoint(url=alert_url) if alert_url else None,
            remove_alert_endpoint=no_alert,
            retry_strategy=strategy(handling.retry_strategy, retries, interval, pattern),
            remove_retry_strategy=no_retries,
            divert=divert,
            suspend=suspend,
            event_types=event_type or None,
            add_event_types=add_event_type,
            remove_event_types=remove_event_type,
        )
        changed = await webhooks.update(tenant_id, locator, asked)
        new_secret = changed.definition.endpoint.secret != hook.definition.endpoint.secret
        printed(changed, output, secret=new_secret)
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
