"""Live subscriptions over HTTP: ``GET /v1/events/subscribe`` streams the native event JSON of
new events as Server-Sent Events (``id:`` the sequence), filtered as the native search is,
resuming after ``Last-Event-ID`` or ``after``.

The stream opens with a ``: live`` comment once it has caught up, sends ``: keep-alive``
after :attr:`~chronik.settings.Settings.subscribe_heartbeat_seconds` of silence, and ends
with ``event: dropped`` (data ``{"after": "<sequence>"}``) when the subscriber fell too far
behind. Errors before the stream starts are answered as every native error is. The
console's tail (:mod:`chronik.api.console.tail`) shares this stream, with an ``event:
ended`` when its session is no longer valid.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from chronik.api.http import authorized, services
from chronik.api.schemas import NativeError, answers
from chronik.auth import permissions as p
from chronik.errors import InvalidArgument
from chronik.events import EventQuery
from chronik.events.fanout import FellBehind, Subscription
from chronik.events.query import MAX_SEQUENCE
from chronik.events.shapes import native_event
from chronik.records import Event

router = APIRouter(prefix="/v1", tags=["Native API"])

SHUTDOWN_HOOKS = "chronik.shutdown_hooks"
"""A scope key: the list of callables the server calls when it begins to shut down (set by
:class:`chronik.cli.connections.GuardedHttp`), so that open streams end instead of holding
the shutdown until its graceful timeout."""

LIVE = b": live\n\n"
HEARTBEAT = b": keep-alive\n\n"

_LISTS = ("aggregateTypes", "eventTypes")
_ONCE = ("aggregateId", "resourceOwner", "editorUserId", "correlationId", "includeSystem", "after")
_SNAKE = {
    "aggregate_types": "aggregateTypes",
    "event_types": "eventTypes",
    "aggregate_id": "aggregateId",
    "resource_owner": "resourceOwner",
    "editor_user_id": "editorUserId",
    "correlation_id": "correlationId",
    "include_system": "includeSystem",
}


def _sequence(text: str, field: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_SEQUENCE:
        raise InvalidArgument(
            f"{field} must be an event's sequence (a whole number >= 0), not {text[:40]!r}",
            field=field,
        )
    return int(text)


def _flag(text: str, field: str) -> bool:
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0", ""):
        return False
    raise InvalidArgument(f"{field} must be true or false", field=field)


def _filters(request: Request) -> tuple[EventQuery, int | None]:
    """The query's filters and the sequence to resume after (``Last-Event-ID`` over
    ``after``: a browser's EventSource reconnects with the same URL and the header)."""
    lists: dict[str, list[str]] = {name: [] for name in _LISTS}
    once: dict[str, str] = {}
    for raw, value in request.query_params.multi_items():
        name = _SNAKE.get(raw, raw)
        if name in lists:
            lists[name].append(value)
        elif name not in _ONCE:
            raise InvalidArgument(f"unknown query parameter {raw[:40]!r}", field=raw[:40])
        elif name in once:
            raise InvalidArgument(f"give {name} once", field=name)
        else:
            once[name] = value
    after = _sequence(once["after"], "after") if "after" in once else None
    resume = last_event_id(request)
    if resume is not None:
        after = resume
    query = EventQuery(
        aggregate_types=tuple(lists["aggregateTypes"]),
        event_types=tuple(lists["eventTypes"]),
        aggregate_id=once.get("aggregateId", ""),
        resource_owner=once.get("resourceOwner", ""),
        editor_user_id=once.get("editorUserId", ""),
        correlation_id=once.get("correlationId", ""),
        system=_flag(once.get("includeSystem", ""), "includeSystem"),
    )
    return query, after


Encode = Callable[[Event], dict[str, Any] | bytes]
"""An event's ``data:`` field: a JSON object, or bytes sent as they are (one line)."""
Valid = Callable[[], Awaitable[str]]
"""Why the caller may no longer follow the stream ("" while it may)."""


class Frames:
    """Each event's SSE frame, encoded once for all the subscribers that get it (the last
    few thousand, by tenant and sequence: every tenant numbers its own events)."""

    def __init__(self, encode: Encode, size: int = 16384) -> None:
        self._encode = encode
        self._size = size
        self._frames: dict[tuple[str, int], bytes] = {}

    def of(self, e: Event) -> bytes:
        key = (e.tenant_id, e.sequence)
        frame = self._frames.get(key)
        if frame is None:
            encoded = self._encode(e)
            data = encoded if isinstance(encoded, bytes) else msgspec.json.encode(encoded)
            frame = b"id: %d\ndata: %s\n\n" % (e.sequence, data)
            if len(self._frames) >= self._size:
                del self._frames[next(iter(self._frames))]
            self._frames[key] = frame
        return frame


def dropped(after: int) -> bytes:
    data = msgspec.json.encode(
        {"after": str(after), "message": "the subscriber fell behind; resume after this sequence"}
    )
    return b"event: dropped\nid: %d\ndata: %s\n\n" % (after, data)


def ended(message: str) -> bytes:
    return b"event: ended\ndata: %s\n\n" % msgspec.json.encode({"message": message})


async def _stream(
    subscription: Subscription,
    frames: Frames,
    heartbeat: float,
    hooks: list[Any] | None,
    valid: Valid | None,
) -> AsyncIterator[bytes]:
    announced = False
    checked = time.monotonic()
    try:
        while True:
            was_live = subscription.live
            try:
                events = await subscription.next(heartbeat)
            except FellBehind as behind:
                yield dropped(behind.after)
                return
            if events is None:
                return
            if valid is not None and time.monotonic() - checked >= heartbeat:
                checked = time.monotonic()
                reason = await valid()
                if reason:
                    yield ended(reason)
                    return
            if events:
                yield b"".join([frames.of(e) for e in events])
            elif was_live:
                yield HEARTBEAT
            if subscription.live and not announced:
                announced = True
                yield LIVE
    finally:
        subscription.close()
        if hooks is not None and subscription.end in hooks:
            hooks.remove(subscription.end)


def event_stream(
    request: Request, subscription: Subscription, encode: Encode, *, valid: Valid | None = None
) -> StreamingResponse:
    """The SSE response of ``subscription``, each event as ``encode`` writes it; it ends when
    the server shuts down, and with ``event: ended`` once ``valid`` (asked about once a
    heartbeat interval) gives a reason the caller may no longer follow."""
    hooks: list[Callable[[], None]] | None = request.scope.get(SHUTDOWN_HOOKS)
    if hooks is not None:
        hooks.append(subscription.end)
    caches: dict[Any, Frames] | None = getattr(request.app.state, "event_frames", None)
    if caches is None:
        caches = request.app.state.event_frames = {}
    frames = caches.get(encode)
    if frames is None:
        frames = caches[encode] = Frames(encode)
    heartbeat = services(request).settings.subscribe_heartbeat_seconds
    return StreamingResponse(
        _stream(subscription, frames, heartbeat, hooks, valid),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def last_event_id(request: Request) -> int | None:
    """The sequence of the ``Last-Event-ID`` header, if one was sent."""
    text = request.headers.get("last-event-id", "").strip()
    return _sequence(text, "Last-Event-ID") if text else None


async def subscribe(request: Request) -> StreamingResponse:
    who = await authorized(request, p.EVENTS_READ)
    query, after = _filters(request)
    subscription = await services(request).events.subscribe(who.tenant_id, query, after=after)
    return event_stream(request, subscription, native_event)


def _parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_LIST = {"type": "array", "items": {"type": "string", "maxLength": 200}}
_TEXT = {"type": "string", "maxLength": 200}

router.add_api_route(
    "/events/subscribe",
    subscribe,
    methods=["GET"],
    summary="Subscribe to new events (Server-Sent Events)",
    description="A `text/event-stream` of the events the filters match, in sequence order: "
    "`id:` is the event's sequence, `data:` its native JSON. New events only, unless the "
    "`Last-Event-ID` header (which wins) or `after` names a sequence to resume after: then "
    "it catches up from there first. `: live` comments that it has caught up, `: keep-alive` "
    'comes after a quiet interval, and `event: dropped` (data `{"after": "<sequence>"}`) '
    "ends the stream of a subscriber that fell too far behind.",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The stream.", "content": {"text/event-stream": {}}},
        **answers(None, NativeError),
    },
    openapi_extra={
        "parameters": [
            _parameter("aggregateTypes", "Any of them (repeat the parameter).", _LIST),
            _parameter("eventTypes", "Any of them (repeat the parameter).", _LIST),
            _parameter("aggregateId", "", _TEXT),
            _parameter("resourceOwner", "", _TEXT),
            _parameter("editorUserId", "", _TEXT),
            _parameter("correlationId", "", _TEXT),
            _parameter(
                "includeSystem", "Also Chronik's own records (`chronik.…`).", {"type": "boolean"}
            ),
            _parameter(
                "after",
                "Resume after this sequence (`Last-Event-ID` wins when both are given).",
                {"type": "string", "pattern": "^[0-9]+$"},
            ),
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "The `id:` of the last event received: resume after it.",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
        ]
    },
)
