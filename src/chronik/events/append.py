"""Validation of an append: everything that can be refused is refused before it queues."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from chronik.errors import InvalidArgument
from chronik.ids import derived_ulids, is_ulid, new_ulids
from chronik.records import (
    EXISTS,
    RESERVED_PREFIX,
    Editor,
    ExpectedVersion,
    NewEvent,
    PendingAppend,
    PreparedEvent,
    reserved,
)

MAX_NAME = 200
MAX_DEPTH = 128
"""How deeply a payload may nest (the payload object is level 1), whichever way it comes: below
what the HTTP API's JSON parser takes with a request around it, so that whatever one way stored
(an action's fields, an import) every other can take back."""
# A JSON NUL escape is a backslash-u-0000 preceded by an even number of other backslashes.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_encode = msgspec.json.Encoder().encode


def _name(value: object, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{field} must be a string", field=field)
    if required and not value:
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(value) > MAX_NAME:
        raise InvalidArgument(
            f"{field} is {len(value)} characters long; at most {MAX_NAME} are allowed",
            field=field,
        )
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return value


def _fine(value: object) -> bool:
    """Whether :func:`_name` takes ``value`` (a required name) without building its message."""
    return type(value) is str and 0 < len(value) <= MAX_NAME and "\x00" not in value


def _payload_json_fast(payload: Any, max_bytes: int) -> str | None:
    """What :func:`payload_json` returns for the common payload, or None: then it decides
    (and builds the message naming the field)."""
    if type(payload) is not dict:
        return None
    try:
        encoded = _encode(payload)
    except Exception:
        return None
    if (
        len(encoded) > max_bytes
        or b"\\u0000" in encoded
        or encoded.count(b"[") + encoded.count(b"{") > MAX_DEPTH
    ):
        return None
    return encoded.decode()


def _depth(value: Any) -> int:
    deepest = 0
    below: list[tuple[Any, int]] = [(value, 1)]
    while below:
        item, depth = below.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            below.extend(
                (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def payload_json(payload: Any, where: str, max_bytes: int) -> str:
    """``payload`` encoded as it is stored, if an append may hold it: the one rule for every
    way into the log (raises :class:`InvalidArgument` naming ``where``)."""
    if not isinstance(payload, dict):
        raise InvalidArgument(f"{where} must be a JSON object", field=where)
    try:
        encoded = _encode(payload)
    except UnicodeEncodeError:
        raise InvalidArgument(f"{where} holds an unpaired surrogate", field=where) from None
    except (TypeError, msgspec.EncodeError, OverflowError) as exc:
        raise InvalidArgument(f"{where} is not valid JSON: {exc}", field=where) from exc
    if b"\\u0000" in encoded and _NUL_ESCAPE.search(encoded):
        # PostgreSQL's jsonb cannot hold NUL; refusing it everywhere keeps the backends alike.
        raise InvalidArgument(f"{where} must not contain NUL characters", field=where)
    # Each level opens a bracket: counting them (in C) spares walking every small payload.
    if encoded.count(b"[") + encoded.count(b"{") > MAX_DEPTH:
        depth = _depth(payload)
        if depth > MAX_DEPTH:
            raise InvalidArgument(
                f"{where} nests {depth} levels deep; at most {MAX_DEPTH} are allowed",
                field=where,
                limit=MAX_DEPTH,
            )
    if len(encoded) > max_bytes:
        raise InvalidArgument(
            f"{where} is {len(encoded)} bytes; at most {max_bytes} are allowed",
            field=where,
            limit=max_bytes,
        )
    return encoded.decode()


def _metadata_json(metadata: Any, i: int, payload: str, max_bytes: int) -> str:
    """Metadata encoded as stored; it shares the payload's size limit."""
    encoded = payload_json(metadata, f"events[{i}].metadata", max_bytes)
    size = len(payload.encode()) + len(encoded.encode())
    if size > max_bytes:
        raise InvalidArgument(
            f"events[{i}].payload and events[{i}].metadata are {size} bytes together; at "
            f"most {max_bytes} are allowed",
            field=f"events[{i}].metadata",
            limit=max_bytes,
        )
    return encoded


def expected_version(version: object, field: str) -> int:
    """An expected version as the stores compare it: a version, 0 for ``"absent"``, or
    :data:`~chronik.records.EXISTS` for ``"exists"``."""
    if version == "exists":
        return EXISTS
    if version == "absent":
        return 0
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise InvalidArgument(
            f'{field} must be a whole number >= 0, "absent" or "exists"', field=field
        )
    return version


def refuse_reserved(events: Sequence[object]) -> None:
    """Refuse a user's append that names one of Chronik's own aggregate types: those are
    written only by the service that owns them (see :data:`~chronik.records.RESERVED_PREFIX`).
    """
    for i, e in enumerate(events):
        kind = getattr(e, "aggregate_type", None)
        if reserved(kind):
            raise InvalidArgument(
                f"events[{i}].aggregateType {kind!r} is reserved: aggregate types starting "
                f"with {RESERVED_PREFIX!r} are Chronik's own records and only Chronik writes "
                "them",
                field=f"events[{i}].aggregateType",
            )


def prepare(
    tenant_id: str,
    events: Sequence[NewEvent],
    *,
    expected: Iterable[ExpectedVersion] = (),
    request_id: str | None = None,
    editor: Editor | None = None,
    max_payload_bytes: int,
    max_events: int,
    retried_by_request: bool = False,
) -> PendingAppend:
    """Check an append against every rule the log has and encode it once.

    ``retried_by_request``: the caller may send the same ``request_id`` again (a retry);
    without locators of its own, the events' locators derive from it, so that the retry is
    recognised (the log's appends; a firing's request is its own, never sent again)."""
    if not events:
        raise InvalidArgument("an append needs at least one event", field="events")
    if len(events) > max_events:
        raise InvalidArgument(
            f"an append may hold at most {max_events} events, not {len(events)}",
            field="events",
            limit=max_events,
        )
    if request_id is not None and not (isinstance(request_id, str) and is_ulid(request_id)):
        raise InvalidArgument("requestId must be a ULID", field="requestId")
    editor = editor or Editor()
    _name(editor.user_id, "editor.userId", required=False)
    _name(editor.service, "editor.service", required=False)

    given = [e.locator for e in events if e.locator is not None]
    if given and len(given) != len(events):
        raise InvalidArgument(
            "give every event of an append a locator, or none", field="events.locator"
        )
    if given:
        for i, loc in enumerate(given):
            if not (isinstance(loc, str) and is_ulid(loc)):
                raise InvalidArgument(
                    f"events[{i}].locator must be a ULID", field=f"events[{i}].locator"
                )
        if len(set(given)) != len(given):
            raise InvalidArgument("the locators of an append must differ", field="events.locator")
    # The ids Chronik chooses come from one clock read and one urandom call.
    wanted = (0 if given else len(events)) + (request_id is None)
    fresh = new_ulids(wanted) if wanted else []
    derived = retried_by_request and not given and request_id is not None
    if request_id is None:
        request_id = fresh.pop()
    elif derived:
        # A caller that names its request may send it again (a retry after a lost answer):
        # locators derived from the request make the retry one the locator check knows, so
        # it returns the first attempt's events and stores nothing, under concurrency too.
        fresh = derived_ulids(request_id, tenant_id, len(events))
    locators = given or fresh

    prepared = []
    aggregates: dict[tuple[str, str], None] = {}
    for i, (e, locator) in enumerate(zip(events, locators, strict=True)):
        if not isinstance(e, NewEvent):
            raise InvalidArgument(f"events[{i}] must be a NewEvent", field=f"events[{i}]")
        kind, ident, name, owner = e.aggregate_type, e.aggregate_id, e.type, e.resource_owner
        if not (_fine(kind) and _fine(ident) and _fine(name) and (owner == "" or _fine(owner))):
            _name(kind, f"events[{i}].aggregateType")  # the slow path names what is wrong
            _name(ident, f"events[{i}].aggregateId")
            _name(name, f"events[{i}].type")
            _name(owner, f"events[{i}].resourceOwner", required=False)
        aggregates[kind, ident] = None
        revision = e.revision
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise InvalidArgument(
                f"events[{i}].revision must be a whole number >= 0",
                field=f"events[{i}].revision",
            )
        payload = _payload_json_fast(e.payload, max_payload_bytes) or payload_json(
            e.payload, f"events[{i}].payload", max_payload_bytes
        )
        correlation_id, causation_id, metadata = e.correlation_id, e.causation_id, e.metadata
        if correlation_id is not None:
            _name(correlation_id, f"events[{i}].correlationId")
        if causation_id is not None:
            _name(causation_id, f"events[{i}].causationId")
        prepared.append(
            PreparedEvent(
                locator=locator,
                aggregate_type=kind,
                aggregate_id=ident,
                resource_owner=owner,
                type=name,
                revision=revision,
                payload=e.payload,
                payload_json=payload,
                correlation_id=correlation_id,
                causation_id=causation_id,
                metadata=metadata,
                metadata_json=(
                    _metadata_json(metadata, i, payload, max_payload_bytes)
                    if metadata or not isinstance(metadata, dict)
                    else None
                ),
            )
        )

    versions: dict[tuple[str, str], int] = {}
    for i, x in enumerate(expected):
        if not isinstance(x, ExpectedVersion):
            raise InvalidArgument(
                f"expectedVersions[{i}] must be an ExpectedVersion", field=f"expectedVersions[{i}]"
            )
        aggregate = (
            _name(x.aggregate_type, f"expectedVersions[{i}].aggregateType"),
            _name(x.aggregate_id, f"expectedVersions[{i}].aggregateId"),
        )
        version = expected_version(x.version, f"expectedVersions[{i}].version")
        if versions.get(aggregate, version) != version:
            raise InvalidArgument(
                f"expectedVersions names {aggregate[0]}/{aggregate[1]} twice, with different "
                "versions",
                field=f"expectedVersions[{i}]",
            )
        versions[aggregate] = version
        aggregates[aggregate] = None

    return PendingAppend(
        tenant_id=tenant_id,
        request_id=request_id,
        events=prepared,
        expected=versions,
        editor=editor,
        client_locators=bool(given) or derived,
        aggregates=list(aggregates),
    )
