"""How the ``chronik webhooks`` commands say a webhook: their options, and what the
options that need it are parsed into."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from chronik.errors import InvalidArgument
from chronik.records import RetryStrategy


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


def headers(given: list[str]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for text in given:
        name, colon, value = text.partition(":")
        if not colon or not name.strip():
            raise InvalidArgument(f"--header {text!r}: give it as 'Name: value'")
        headers.setdefault(name.strip(), []).append(value.strip())
    return headers


def strategy(
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
