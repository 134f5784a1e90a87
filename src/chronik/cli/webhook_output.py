"""How ``chronik webhooks`` prints a webhook: a two-column card for people, or JSON; its
secrets only when asked (``create``, or an ``update`` that made a new one)."""

from __future__ import annotations

from typing import Any

import msgspec

from chronik.cli.output import Listing, json_document, show, table, write
from chronik.records import RetryStrategy, Webhook
from chronik.webhooks import WebhookStatus


def public(hook: Webhook, *, secret: bool = False) -> dict[str, Any]:
    """The webhook as JSON prints it; its secrets only when ``secret``."""
    record: dict[str, Any] = msgspec.to_builtins(hook)
    if not secret:
        definition = record["definition"]
        for endpoint in (definition["endpoint"], definition["failure_handling"]["alert_endpoint"]):
            if endpoint is not None:
                endpoint.pop("secret", None)
    return record


def status_record(status: WebhookStatus) -> dict[str, Any]:
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


def yes(value: bool) -> str:
    return "yes" if value else "no"


def _retries(strategy: RetryStrategy | None) -> str:
    if strategy is None:
        return "none"
    return f"{strategy.retries}, {strategy.pattern} from {strategy.interval_seconds:g}s"


def card(hook: Webhook, *, secret: bool = False, status: WebhookStatus | None = None) -> None:
    """One webhook as a two-column table, for people."""
    d = hook.definition
    handling = d.failure_handling
    endpoint = d.endpoint
    rows = [
        ("locator", hook.locator),
        ("name", d.name),
        ("enabled", yes(d.enabled)),
        ("suspended", hook.suspended_at.isoformat() if hook.suspended_at else "no"),
        ("url", endpoint.url),
        ("hmac", yes(endpoint.hmac_enabled)),
    ]
    if secret and endpoint.secret:
        rows.append(("secret", endpoint.secret))
    rows += [
        ("headers", "; ".join(f"{n}: {v}" for n, vs in endpoint.headers.items() for v in vs)),
        ("event types", ", ".join(d.event_types) or "all"),
        ("triggers", ", ".join(handling.triggers)),
        ("retries", _retries(handling.retry_strategy)),
        ("divert", yes(handling.divert)),
        ("suspend", yes(handling.suspend)),
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


def printed(hook: Webhook, output: Listing, *, secret: bool = False) -> None:
    if output is Listing.json:
        write(json_document(public(hook, secret=secret)))
    else:
        card(hook, secret=secret)
