"""Messages in JSON as grpc-gateway reads and writes them (protojson, as ZITADEL configures it).

Reading is protobuf's own ``json_format`` with unknown fields (and unknown enum names)
ignored, after two repairs: a body must be a JSON object, and a ``Duration`` in a form Go's
protojson takes but Python's does not (``".5s"``) is completed first.

Writing starts from a translation's answer: plain data shaped by the response message (a
dict per message, keyed by proto field name; enums by name; ``datetime`` for a Timestamp,
``timedelta`` for a Duration, a dict for a Struct). ``Response(**data)`` builds the message
for gRPC; :func:`to_json` writes the same data as protojson would write that message —
camelCase names, 64-bit integers as strings, proto3 defaults left out — without building it:
protobuf's Python messages cost ~20 µs per event to build and its ``MessageToDict`` another
~35 µs, where this costs a few. ``tests/api/test_protojson.py`` holds the two to the same
output for every response message Chronik serves.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from chronik.api.rpc.methods import Kept, Shared
from chronik.errors import InvalidArgument

INT64 = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
"""The field types protojson writes as strings."""


def duration(value: timedelta | float) -> str:
    """A Duration as protojson writes it: ``"0s"``, ``"2s"``, ``"1.500s"``, ``"-0.000001s"``."""
    micros = (
        value // timedelta(microseconds=1)
        if isinstance(value, timedelta)
        else round(value * 1_000_000)
    )
    sign, micros = ("-", -micros) if micros < 0 else ("", micros)
    seconds, fraction = divmod(micros, 1_000_000)
    if fraction == 0:
        return f"{sign}{seconds}s"
    if fraction % 1000 == 0:
        return f"{sign}{seconds}.{fraction // 1000:03d}s"
    return f"{sign}{seconds}.{fraction:06d}s"


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC, ``Z``, with 0, 3 or 6 fractional digits, as protojson writes a
    Timestamp (a naive ``datetime`` is taken as UTC)."""
    utc = at if at.tzinfo is UTC or at.tzinfo is None else at.astimezone(UTC)
    text = utc.replace(tzinfo=None).isoformat(timespec="microseconds")
    micros = utc.microsecond
    if micros == 0:
        return text[:-7] + "Z"
    if micros % 1000 == 0:
        return text[:-3] + "Z"
    return text + "Z"


# How a field's value is written, and which values are its default (left out).
_PLAIN, _MESSAGE, _ENUM = 0, 1, 2
Memo = dict[int, Any]
Plan = dict[str, tuple[str, int, bool, Any]]


def _type(field: FieldDescriptor) -> Descriptor:
    found = field.message_type
    assert found is not None, field.full_name
    return found


def _field(field: FieldDescriptor) -> tuple[int, Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        full_name = _type(field).full_name
        if full_name == "google.protobuf.Timestamp":
            return _MESSAGE, lambda v, memo: timestamp(v)
        if full_name == "google.protobuf.Duration":
            return _MESSAGE, lambda v, memo: duration(v)
        if full_name in _AS_IS:
            return _MESSAGE, None
        return _MESSAGE, _writer(_type(field))
    if kind == FieldDescriptor.TYPE_ENUM:
        return _ENUM, field.enum_type
    if kind in INT64:
        return _PLAIN, str
    if kind == FieldDescriptor.TYPE_BYTES:
        return _PLAIN, lambda v: base64.b64encode(v).decode("ascii")
    return _PLAIN, None


_AS_IS = frozenset({"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"})


def _enum_name(enum: EnumDescriptor, value: Any) -> Any:
    """The name protojson writes; ``None`` for the default (number 0)."""
    if isinstance(value, str):
        known = enum.values_by_name.get(value)
        return None if known is not None and known.number == 0 else value
    if value == 0:
        return None
    named = enum.values_by_number.get(value)
    return named.name if named is not None else value


@cache
def _writer(descriptor: Descriptor) -> Callable[[Any, Memo], dict[str, Any]]:
    """The writer of ``descriptor``'s plain data. A dict met twice in one answer (the
    localized type of many events) is written once, and :class:`Shared` data once for as long
    as it is kept."""
    plan: Plan = {}

    def write(data: Any, memo: Memo) -> dict[str, Any]:
        if type(data) is Shared:
            found: dict[str, Any] = kept(data)
            return found
        return written(data, memo)

    def written(data: Any, memo: Memo) -> dict[str, Any]:
        done = memo.get(id(data))
        if done is not None:
            return done  # type: ignore[no-any-return]
        if not plan:  # built on first use: a message may hold itself
            for f in descriptor.fields:
                kind, how = _field(f)
                plan[f.name] = (f.json_name, kind, f.is_repeated, how)
        out: dict[str, Any] = {}
        for name, value in data.items():
            json_name, kind, repeated, how = plan[name]
            if repeated:
                if value:
                    if kind == _MESSAGE:
                        out[json_name] = (
                            list(value) if how is None else [how(v, memo) for v in value]
                        )
                    elif kind == _ENUM:
                        out[json_name] = [
                            _enum_name(how, v) or how.values_by_number[0].name for v in value
                        ]
                    else:
                        out[json_name] = list(value) if how is None else [how(v) for v in value]
            elif kind == _PLAIN:
                if value:
                    out[json_name] = value if how is None else how(value)
            elif kind == _MESSAGE:
                if value is not None:
                    out[json_name] = value if how is None else how(value, memo)
            elif value is not None:
                named = _enum_name(how, value)
                if named is not None:
                    out[json_name] = named
        memo[id(data)] = out
        return out

    kept = Kept(lambda data: written(data, {}))
    return write


def to_json(message: type[Message], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a translation's answer for ``message``) as protojson writes that message."""
    return _writer(message.DESCRIPTOR)(data, {})


# Go's protojson takes a Duration with no digit before or after the point (".5s", "1.s") and
# a leading "+"; Python's json_format only the last two.
_DURATION = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?s")
_STRUCT = "google.protobuf.Struct"


def _prepare(descriptor: Descriptor, data: dict[str, Any], where: str) -> None:
    """Refuse what Go's protojson refuses and Python's json_format lets through (a string or
    list where a message belongs: it would read its characters as unknown field names), and
    complete the Durations only Go's takes."""
    for key, value in data.items():
        field = field_named(descriptor, key)
        if value is None or field is None or field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        kind = _type(field)
        name = f"{where}.{field.json_name}" if where else field.json_name
        if field.is_repeated:
            if not isinstance(value, list):
                raise InvalidArgument(f"{name} must be a JSON array", field=name)
            items = value
        else:
            items = [value]
        for i, item in enumerate(items):
            at = f"{name}[{i}]" if field.is_repeated else name
            if kind.full_name == "google.protobuf.Duration":
                match = _DURATION.fullmatch(item) if isinstance(item, str) else None
                if match is not None and (match.group(2) or match.group(3)):
                    sign, whole, fraction = match.groups()
                    completed = f"{sign}{whole or '0'}.{fraction or '0'}s"
                    if field.is_repeated:
                        value[i] = completed
                    else:
                        data[key] = completed
            elif kind.full_name.startswith("google.protobuf.") and kind.full_name != _STRUCT:
                continue  # a Timestamp is a string, a Value anything: json_format checks them
            elif not isinstance(item, dict):
                raise InvalidArgument(f"{at} must be a JSON object", field=at)
            elif kind.full_name != _STRUCT:
                _prepare(kind, item, at)


def field_named(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    """The field a JSON key names: by its proto name or its JSON (camelCase) name."""
    return descriptor.fields_by_name.get(key) or _by_json_name(descriptor).get(key)


@cache
def _by_json_name(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    return {f.json_name: f for f in descriptor.fields}


_PATH = re.compile(r" at [A-Za-z_]\w*\.([\w.]+?)\.?$")
_FIELD = re.compile(r"Failed to parse (\w+) field")


def _bad_field(error: str) -> str | None:
    """The field a ``json_format`` error is about, as gRPC's refusal of the same value names
    it: the path it ends with (``range.until``), else the fields it failed in, outermost
    first (``query.limit``)."""
    found = _PATH.search(error)
    if found is not None:
        return found.group(1)
    return ".".join(_FIELD.findall(error)) or None


def from_json(message: type[Message], data: Any) -> Message:
    """``data`` (a decoded JSON body, with path and query fields added) read as grpc-gateway
    reads ``message``: unknown fields and enum names ignored, ``null`` as the default."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"the body must be a JSON object, not {type(data).__name__}")
    descriptor = cast(Descriptor, message.DESCRIPTOR)
    _prepare(descriptor, data, "")
    try:
        return json_format.ParseDict(data, message(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        field = _bad_field(str(exc))
        raise InvalidArgument(
            f"invalid request: {exc}", **({"field": field} if field else {})
        ) from None
