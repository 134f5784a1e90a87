"""Reading events to append: one JSON document (one atomic append) or NDJSON (streamed).

Event fields are named as in the HTTP API (``aggregateType``, ``aggregateId``, ``type``,
``payload``, ``resourceOwner``, ``revision``, ``locator``, ``correlationId``, ``causationId``,
``metadata``); snake_case names are accepted too. Unknown fields are refused, so a misspelt
``payLoad`` cannot be dropped silently. An expected version is a number, ``"absent"`` or
``"exists"``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import msgspec

from chronik.errors import ChronikError, InvalidArgument
from chronik.records import ExpectedVersion, NewEvent


class InputFormat(StrEnum):
    auto = "auto"
    json = "json"
    ndjson = "ndjson"


@dataclass(slots=True)
class Append:
    """One atomic append read from the input; ``lines`` holds each event's input line
    (NDJSON only), so that errors can point at it."""

    events: list[NewEvent]
    expected: list[ExpectedVersion] = field(default_factory=list)
    request_id: str | None = None
    lines: list[int] = field(default_factory=list)


class _EventIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    aggregate_type: str
    aggregate_id: str
    type: str
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    resource_owner: str = ""
    revision: int = 1
    locator: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class _ExpectedIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    aggregate_type: str
    aggregate_id: str
    version: int | Literal["absent", "exists"]


class _BatchIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    events: list[Any]
    expected_versions: list[Any] = msgspec.field(default_factory=list)
    request_id: str | None = None


def _camel_names(struct: type[msgspec.Struct]) -> dict[str, str]:
    """Both spellings of each field of ``struct``, mapped to the camelCase one."""
    names: dict[str, str] = {}
    for f in msgspec.structs.fields(struct):
        names[f.name] = names[f.encode_name] = f.encode_name
    return names


_EVENT_NAMES = _camel_names(_EventIn)
_EXPECTED_NAMES = _camel_names(_ExpectedIn)
_BATCH_NAMES = _camel_names(_BatchIn)
_decode = msgspec.json.Decoder().decode


def _camel(obj: dict[str, Any], names: dict[str, str], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = names.get(key, key)
        if name in out:
            raise InvalidArgument(f"{where}: {name} is given twice")
        out[name] = value
    return out


def _convert(obj: Any, names: dict[str, str], into: type[Any], where: str) -> Any:
    if not isinstance(obj, dict):
        raise InvalidArgument(f"{where} must be a JSON object")
    try:
        return msgspec.convert(_camel(obj, names, where), into)
    except msgspec.ValidationError as exc:
        raise InvalidArgument(f"{where}: {exc}") from None


def _event(obj: Any, where: str) -> NewEvent:
    e: _EventIn = _convert(obj, _EVENT_NAMES, _EventIn, where)
    return NewEvent(
        aggregate_type=e.aggregate_type,
        aggregate_id=e.aggregate_id,
        type=e.type,
        payload=e.payload,
        resource_owner=e.resource_owner,
        revision=e.revision,
        locator=e.locator,
        correlation_id=e.correlation_id,
        causation_id=e.causation_id,
        metadata=e.metadata,
    )


def malformed(data: bytes, exc: msgspec.DecodeError, first_line: int = 1) -> InvalidArgument:
    """Name the line (and column) of a JSON error; the standard library knows where it is."""
    try:
        json.loads(data)
    except json.JSONDecodeError as located:
        line = first_line + located.lineno - 1
        return InvalidArgument(
            f"line {line}, column {located.colno}: malformed JSON: {located.msg}"
        )
    except (UnicodeDecodeError, RecursionError):
        pass
    return InvalidArgument(f"line {first_line}: {exc}")


def document(data: bytes) -> Append:
    """One JSON document: an event object, an array of them, or a batch object
    ``{"events": [...], "expectedVersions": [...], "requestId": ...}``."""
    if not data.strip():
        raise InvalidArgument("no events given: the input is empty")
    try:
        doc = _decode(data)
    except msgspec.DecodeError as exc:
        raise malformed(data, exc) from None
    return _document(doc)


def _document(doc: Any) -> Append:
    if isinstance(doc, list):
        return Append([_event(e, f"events[{i}]") for i, e in enumerate(doc)])
    if isinstance(doc, dict) and ("events" in doc):
        batch: _BatchIn = _convert(doc, _BATCH_NAMES, _BatchIn, "the batch")
        expected = [
            _convert(x, _EXPECTED_NAMES, _ExpectedIn, f"expectedVersions[{i}]")
            for i, x in enumerate(batch.expected_versions)
        ]
        return Append(
            [_event(e, f"events[{i}]") for i, e in enumerate(batch.events)],
            [ExpectedVersion(x.aggregate_type, x.aggregate_id, x.version) for x in expected],
            batch.request_id,
        )
    if isinstance(doc, dict):
        return Append([_event(doc, "the event")])
    raise InvalidArgument(
        'the input must be an event object, an array of events, or a batch object {"events": ...}'
    )


def ndjson(numbered: Iterable[tuple[int, bytes]], batch_size: int) -> Iterator[Append]:
    """One event object per line, in appends of ``batch_size`` events; blank lines are
    skipped. Only one batch is held in memory at a time."""
    batch = Append([])
    for n, line in numbered:
        if not line.strip():
            continue
        try:
            obj = _decode(line)
        except msgspec.DecodeError as exc:
            raise malformed(line.rstrip(), exc, n) from None
        batch.events.append(_event(obj, f"line {n}"))
        batch.lines.append(n)
        if len(batch.events) == batch_size:
            yield batch
            batch = Append([])
    if batch.events:
        yield batch


def appends(lines: Iterable[bytes], fmt: InputFormat, batch_size: int) -> Iterator[Append]:
    """The appends of an input, read lazily. ``auto`` takes the input for NDJSON when its
    first line is a whole JSON object and more lines follow; otherwise for one document."""
    numbered = enumerate(lines, 1)
    if fmt is InputFormat.ndjson:
        yield from ndjson(numbered, batch_size)
        return
    if fmt is InputFormat.json:
        yield document(b"".join(line for _, line in numbered))
        return
    seen: list[tuple[int, bytes]] = []
    first = _next_content(numbered, seen)
    if first is None:
        raise InvalidArgument("no events given: the input is empty")
    try:
        obj = _decode(first)
    except msgspec.DecodeError:
        obj = None
    if isinstance(obj, dict) and _next_content(numbered, seen) is not None:
        yield from ndjson(itertools.chain(seen, numbered), batch_size)
    else:
        yield document(b"".join(line for _, line in itertools.chain(seen, numbered)))


def _next_content(
    numbered: Iterator[tuple[int, bytes]], seen: list[tuple[int, bytes]]
) -> bytes | None:
    for n, line in numbered:
        seen.append((n, line))
        if line.strip():
            return line
    return None


_EVENT_FIELD = re.compile(r"events\[(\d+)\]\.?")


def located(exc: ChronikError, lines: list[int]) -> str:
    """The message of an error the core raised for an append read from ``lines`` (the input
    line of each event), pointing at the line of the event it names: within a streamed
    batch, the index the core gives means little."""
    match = _EVENT_FIELD.match(str(exc.details.get("field", "")))
    if match is None or int(match[1]) >= len(lines):
        return exc.message
    return f"line {lines[int(match[1])]}: {_EVENT_FIELD.sub('', exc.message, count=1)}"
