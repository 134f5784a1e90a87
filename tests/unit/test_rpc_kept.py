"""The messages of recently answered events are kept: the same stored event answers the same
data (and each transport writes it once), another store's event with the same sequence never
does, and a large payload is never kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from chronik.api.proto.zitadel import admin_pb2
from chronik.api.rpc import admin
from chronik.api.rpc.methods import Kept, Shared
from chronik.api.rpc.protojson import to_json
from chronik.api.rpc.servicer import serializer
from chronik.ids import new_ulid
from chronik.records import Event


def _event(sequence: int, **changes: object) -> Event:
    event = Event(
        sequence=sequence,
        locator=new_ulid(),
        tenant_id="t",
        aggregate_type="user",
        aggregate_id="u-1",
        aggregate_version=1,
        resource_owner="org",
        type="user.added",
        revision=1,
        payload={"n": sequence},
        editor_user_id="someone",
        editor_service="native-api",
        request_id="r",
        created_at=datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=UTC),
    )
    return msgspec.structs.replace(event, **changes)


def test_the_same_stored_event_answers_the_same_data() -> None:
    event = _event(7)
    read_again = msgspec.structs.replace(event, payload=dict(event.payload))

    first = admin.zitadel_event(event, "en")

    assert isinstance(first, Shared)
    assert admin.zitadel_event(read_again, "en") is first
    assert admin.zitadel_event(event, "de") is not first


def test_another_stores_event_with_the_same_sequence_is_its_own() -> None:
    ours, theirs = _event(8), _event(8, payload={"other": True})

    assert admin.zitadel_event(ours, "en")["payload"] == {"n": 8}
    assert admin.zitadel_event(theirs, "en")["payload"] == {"other": True}


def test_a_large_payload_is_built_anew_each_time() -> None:
    big = _event(9, payload={"blob": "x" * (admin.SHARED_PAYLOAD_BYTES + 1)})

    data = admin.zitadel_event(big, "en")

    assert not isinstance(data, Shared)
    assert admin.zitadel_event(big, "en") is not data


def test_kept_answers_are_the_same_bytes_and_json_as_fresh_ones() -> None:
    events = [_event(i) for i in range(10, 13)]
    serialize = serializer(admin_pb2.ListEventsResponse)

    def answer() -> dict[str, object]:
        return {"events": [admin.zitadel_event(e, "en") for e in events]}

    fresh = {"events": [dict(d) for d in answer()["events"]]}  # type: ignore[attr-defined]
    assert serialize(answer()) == serialize(answer()) == serialize(fresh)
    assert to_json(admin_pb2.ListEventsResponse, answer()) == to_json(
        admin_pb2.ListEventsResponse, fresh
    )


def test_kept_holds_only_the_most_recent() -> None:
    made: list[Shared] = []

    def make(data: Shared) -> int:
        made.append(data)
        return len(made)

    kept = Kept(make, size=2)
    a, b, c = Shared(), Shared(), Shared()

    assert [kept(a), kept(b), kept(a), kept(c), kept(b)] == [1, 2, 1, 3, 4]


def test_kept_and_fresh_events_in_one_answer_keep_their_order_and_bytes() -> None:
    big = _event(20, payload={"blob": "x" * (admin.SHARED_PAYLOAD_BYTES + 1)})
    events = [_event(21), big, _event(22)]
    data = {"events": [admin.zitadel_event(e, "en") for e in events]}
    fresh: Any = [dict(d) for d in data["events"]]
    built = admin_pb2.ListEventsResponse(events=fresh)

    encoded = serializer(admin_pb2.ListEventsResponse)(data)

    assert encoded == built.SerializeToString()
    assert [e.sequence for e in admin_pb2.ListEventsResponse.FromString(encoded).events] == [
        21,
        20,
        22,
    ]
