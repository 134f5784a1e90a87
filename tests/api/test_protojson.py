"""The JSON routes read and write messages as protojson does: ``to_json`` of a translation's
plain data is what protobuf's own ``MessageToDict`` writes of the message that data builds,
for every response message Chronik serves; ``from_json`` reads what Go's protojson reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronik.api.proto.zitadel import admin_pb2
from chronik.api.rpc.methods import all_methods
from chronik.api.rpc.protojson import duration, from_json, timestamp, to_json
from chronik.errors import InvalidArgument

_INTS = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
}
# A Struct holds doubles: integers beyond 2**53 are not the same number once in one.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        message: Any = field.message_type
        name = message.full_name
        if name == "google.protobuf.Timestamp":
            return st.datetimes(
                min_value=datetime(1, 1, 1),
                max_value=datetime(9999, 12, 31),
                timezones=st.just(UTC),
            )
        if name == "google.protobuf.Duration":
            return st.timedeltas(min_value=timedelta(days=-9999), max_value=timedelta(days=9999))
        if name == "google.protobuf.Struct":
            return st.dictionaries(st.text(max_size=4), _JSON, max_size=3)
        return _data(message, depth + 1)
    if kind == FieldDescriptor.TYPE_ENUM:
        enum: Any = field.enum_type
        names = [v.name for v in enum.values]
        return st.sampled_from(names) | st.sampled_from([v.number for v in enum.values])
    if kind in _INTS:
        low, high = _INTS[kind]
        return st.integers(low, high)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    return st.text(max_size=6)


def _data(descriptor: Any, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Plain data for ``descriptor``: any subset of its fields (a oneof's at most once)."""
    if depth > 4:
        return st.just({})
    fields = {}
    for field in descriptor.fields:
        one = _value(field, depth)
        fields[field.name] = st.lists(one, max_size=2) if field.is_repeated else one
    return st.fixed_dictionaries({}, optional=fields).filter(
        lambda d: all(sum(f.name in d for f in oneof.fields) <= 1 for oneof in descriptor.oneofs)
    )


RESPONSES = sorted({m.response for m in all_methods()}, key=lambda r: r.DESCRIPTOR.full_name)


@pytest.mark.parametrize("response", RESPONSES, ids=lambda r: r.DESCRIPTOR.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_to_json_writes_what_message_to_dict_writes(
    response: type[Message], data: st.DataObject
) -> None:
    plain = data.draw(_data(response.DESCRIPTOR))
    assert to_json(response, plain) == json_format.MessageToDict(response(**plain))


@given(st.datetimes(timezones=st.just(UTC)))
def test_timestamps_are_written_with_protojsons_digits(at: datetime) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromDatetime(at)
    assert timestamp(at) == stamp.ToJsonString()


@given(st.timedeltas(min_value=timedelta(days=-9999), max_value=timedelta(days=9999)))
def test_durations_are_written_as_protojson_writes_them(value: timedelta) -> None:
    from google.protobuf.duration_pb2 import Duration

    expected = Duration()
    expected.FromTimedelta(value)
    assert duration(value) == expected.ToJsonString()


def test_a_large_payload_integer_keeps_its_digits_in_json() -> None:
    """Chronik writes the stored payload as it is; a Struct (gRPC) holds a double."""
    event = {"payload": {"big": 2**53 + 1}}
    assert to_json(admin_pb2.ListEventsResponse, {"events": [event]}) == {"events": [event]}


def test_null_is_the_default_and_unknown_fields_and_enum_names_are_ignored() -> None:
    from chronik.api.proto.zitadel import management_pb2

    read = from_json(
        management_pb2.ListActionsRequest,
        {"query": None, "sortingColumn": "ACTION_FIELD_NAME_NOPE", "shiny": {"new": 1}},
    )
    assert read == management_pb2.ListActionsRequest()
    numbered: Any = from_json(management_pb2.ListActionsRequest, {"sortingColumn": 9})
    assert numbered.sorting_column == 9


@pytest.mark.parametrize(
    ("given_", "seconds", "nanos"),
    [
        (".5s", 0, 500_000_000),
        ("+2s", 2, 0),
        ("1.s", 1, 0),
        ("1.5s", 1, 500_000_000),
        ("-1.5s", -1, -500_000_000),
    ],
)
def test_a_duration_reads_in_every_protojson_form(given_: str, seconds: int, nanos: int) -> None:
    from chronik.api.proto.zitadel import management_pb2

    read = from_json(management_pb2.CreateActionRequest, {"timeout": given_})
    assert (read.timeout.seconds, read.timeout.nanos) == (seconds, nanos)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"range": "2024"},
        {"range": ["2024"]},
        {"eventTypes": "x"},
        {"asc": "true"},
        {"creationDate": "2024-01-01T00:00:00"},
        {"limit": 1.5},
        {"sequence": 2**64},
    ],
    ids=repr,
)
def test_what_protojson_refuses_is_an_invalid_argument(body: Any) -> None:
    with pytest.raises(InvalidArgument):
        from_json(admin_pb2.ListEventsRequest, body)


def test_the_refusal_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as refused:
        from_json(admin_pb2.ListEventsRequest, {"range": {"since": "nope"}})
    assert refused.value.details.get("field") in ("since", "range.since")
