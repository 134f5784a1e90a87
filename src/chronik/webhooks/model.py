"""What a webhook is, in Socotra's terms: where events go (an endpoint), which events (their
types), and what to do when a delivery fails (failure handling).

Defaults follow Socotra's: triggers ``4xx``, ``5xx`` and ``timeout``, no retries, no alert,
nothing diverted, never suspended ("behave with indifference as to whether delivery
succeeds"). A retry strategy retries 1 to 10 times after the first attempt (3 by default).
"""

from __future__ import annotations

import base64
import re
import secrets
import urllib.parse
from datetime import datetime

import msgspec

from chronik.errors import InvalidArgument
from chronik.records import (
    Endpoint,
    FailureHandling,
    RetryStrategy,
    Webhook,
    WebhookDefinition,
)
from chronik.retries import Backoff

SECRET_PREFIX = "whsec_"
"""Standard Webhooks' secret form: ``whsec_`` and the base64 of 24 to 64 random bytes."""

TIMEOUT = "timeout"
"""The trigger of a delivery that got no answer in time, or no connection at all."""

DEFAULT_TRIGGERS = ("4xx", "5xx", TIMEOUT)
MAX_EVENT_TYPES = 100
MAX_HEADERS = 20
_TRIGGER = re.compile(r"[45]xx|[45][0-9][0-9]|timeout")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "connection", "transfer-encoding", "user-agent"}
)


class Diverted(msgspec.Struct, frozen=True, kw_only=True):
    """An event whose delivery failed for good and was kept (``divert``)."""

    event_locator: str
    request_locator: str
    sequence: int
    failure_message: str
    failure_timestamp: datetime
    failure_trigger: str
    failure_count: int


__all__ = ["Endpoint", "FailureHandling", "RetryStrategy", "Webhook", "WebhookDefinition"]


def backoff(strategy: RetryStrategy | None) -> Backoff:
    """``linear`` keeps the interval, ``exponential`` doubles it each time (at most an hour)."""
    if strategy is None:
        return Backoff()
    factor = 2.0 if strategy.pattern == "exponential" else 1.0
    return Backoff(first=strategy.interval_seconds, factor=factor, longest=3600.0)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def failure_text(trigger: str, message: str) -> str:
    """How a failed delivery reads in its failed-event record: the trigger, then why."""
    return f"{trigger}: {message}"


def failure_parts(text: str) -> tuple[str, str]:
    trigger, _, message = text.partition(": ")
    return trigger, message


# -- validation ------------------------------------------------------------------------------


def checked(definition: WebhookDefinition) -> WebhookDefinition:
    """``definition`` if it holds, with a secret made for an endpoint that signs and has
    none; :class:`InvalidArgument` naming the first field that does not."""
    _text("name", definition.name, 200)
    endpoint = _endpoint("endpoint", definition.endpoint)
    handling = definition.failure_handling
    if not handling.triggers:
        raise InvalidArgument("failureHandling.triggers: name at least one", field="triggers")
    for trigger in handling.triggers:
        if not isinstance(trigger, str) or not _TRIGGER.fullmatch(trigger):
            raise InvalidArgument(
                f"failureHandling.triggers: {trigger!r} is none of 4xx, 5xx, timeout or an "
                "HTTP status from 400 to 599",
                field="triggers",
            )
    alert = handling.alert_endpoint
    if alert is not None:
        alert = _endpoint("failureHandling.alertEndpoint", alert)
    strategy = handling.retry_strategy
    if strategy is not None:
        if not 1 <= strategy.retries <= 10:
            raise InvalidArgument(
                "failureHandling.retryStrategy.retries: from 1 to 10", field="retries"
            )
        if not 0 <= strategy.interval_seconds <= 86_400:
            raise InvalidArgument(
                "failureHandling.retryStrategy.intervalSeconds: from 0 to 86400",
                field="intervalSeconds",
            )
    if len(definition.event_types) > MAX_EVENT_TYPES:
        raise InvalidArgument(f"eventTypes: at most {MAX_EVENT_TYPES}", field="eventTypes")
    for event_type in definition.event_types:
        _text("eventTypes[]", event_type, 200)
    return msgspec.structs.replace(
        definition,
        endpoint=endpoint,
        failure_handling=msgspec.structs.replace(
            handling, alert_endpoint=alert, triggers=tuple(dict.fromkeys(handling.triggers))
        ),
        event_types=tuple(dict.fromkeys(definition.event_types)),
    )


def _text(where: str, value: str, longest: int) -> None:
    if not 1 <= len(value) <= longest:
        raise InvalidArgument(f"{where}: 1 to {longest} characters", field=where)
    if "\x00" in value:
        raise InvalidArgument(f"{where} holds a NUL (\\u0000) character", field=where)


def _endpoint(where: str, endpoint: Endpoint) -> Endpoint:
    url = endpoint.url
    _text(f"{where}.url", url, 2048)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"{where}.url: {exc}", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"{where}.url: an http or https URL with a host", field="url")
    if parts.username is not None or parts.password is not None or port == 0:
        raise InvalidArgument(f"{where}.url: no user, password or port 0 in it", field="url")
    if len(endpoint.tag) > 200 or "\x00" in endpoint.tag:
        raise InvalidArgument(f"{where}.tag: at most 200 characters", field="tag")
    if len(endpoint.headers) > MAX_HEADERS:
        raise InvalidArgument(f"{where}.headers: at most {MAX_HEADERS}", field="headers")
    for name, values in endpoint.headers.items():
        lowered = name.lower()
        if not _HEADER_NAME.fullmatch(name) or lowered in _RESERVED_HEADERS:
            raise InvalidArgument(f"{where}.headers: {name!r} cannot be set", field="headers")
        if lowered.startswith("webhook-"):
            raise InvalidArgument(
                f"{where}.headers: {name!r} is the signature's own", field="headers"
            )
        for value in values:
            if len(value) > 4096 or any(c in value for c in "\r\n\x00"):
                raise InvalidArgument(
                    f"{where}.headers.{name}: one line of at most 4096 characters",
                    field="headers",
                )
    secret = endpoint.secret
    if secret is not None:
        _secret_bytes(where, secret)
    elif endpoint.hmac_enabled:
        secret = new_secret()
    return msgspec.structs.replace(endpoint, secret=secret)


def _secret_bytes(where: str, secret: str) -> bytes:
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except ValueError:
        key = b""
    if not secret.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise InvalidArgument(
            f"{where}.secret: whsec_ and the base64 of 24 to 64 random bytes (Standard "
            "Webhooks' form), or none to have one made",
            field="secret",
        )
    return key


def secret_key(secret: str) -> bytes:
    """The HMAC key of a checked secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
