"""Reading append input and deriving locators, in-process (no database)."""

from __future__ import annotations

import pytest

from chronik.cli.input import InputFormat, appends, located
from chronik.cli.transfer import derived_locator
from chronik.errors import InvalidArgument
from chronik.ids import is_ulid, new_ulid


def read(text: str, fmt: InputFormat = InputFormat.auto, batch_size: int = 1000) -> list[list[str]]:
    """The aggregate ids of each append the input holds."""
    lines = text.encode().splitlines(keepends=True)
    return [[e.aggregate_id for e in a.events] for a in appends(lines, fmt, batch_size)]


ONE = '{"aggregateType": "u", "aggregateId": "%s", "type": "t"}'


def test_several_one_line_objects_are_ndjson_in_batches() -> None:
    text = "\n".join(ONE % i for i in range(5))
    assert read(text, batch_size=2) == [["0", "1"], ["2", "3"], ["4"]]


def test_a_single_object_over_several_lines_is_one_document() -> None:
    assert read('\n{\n  "aggregateType": "u",\n  "aggregateId": "7",\n  "type": "t"\n}\n') == [
        ["7"]
    ]


def test_an_array_is_one_append_whatever_its_size() -> None:
    text = "[" + ",\n".join(ONE % i for i in range(3)) + "]"
    assert read(text, batch_size=1) == [["0", "1", "2"]]


def test_forced_ndjson_refuses_a_pretty_printed_object() -> None:
    with pytest.raises(InvalidArgument, match=r"^line 1, column 2: malformed JSON"):
        read("{\n}\n", InputFormat.ndjson)


def test_blank_lines_keep_the_line_numbers() -> None:
    with pytest.raises(InvalidArgument, match=r"^line 4, column"):
        read(f"{ONE % 1}\n\n{ONE % 2}\n{{nope\n")


def test_a_field_given_in_both_spellings_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="aggregateId is given twice"):
        read('{"aggregateType": "u", "aggregateId": "1", "aggregate_id": "2", "type": "t"}')


def test_correlation_causation_and_metadata_are_read_in_either_spelling() -> None:
    text = (
        '{"aggregateType": "u", "aggregateId": "1", "type": "t", "correlationId": "c-1", '
        '"causation_id": "e-0", "metadata": {"ip": "192.0.2.1"}}'
    )
    [append] = appends([text.encode()], InputFormat.auto, 1000)
    [event] = append.events
    assert (event.correlation_id, event.causation_id) == ("c-1", "e-0")
    assert event.metadata == {"ip": "192.0.2.1"}


def test_an_unknown_event_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgument, match="correlationID"):
        read('{"aggregateType": "u", "aggregateId": "1", "type": "t", "correlationID": "c"}')


def test_expected_versions_may_be_absent_exists_or_a_number() -> None:
    batch = (
        '{"events": [%s], "expectedVersions": ['
        '{"aggregateType": "u", "aggregateId": "1", "version": "exists"}, '
        '{"aggregateType": "u", "aggregateId": "2", "version": "absent"}, '
        '{"aggregateType": "u", "aggregateId": "3", "version": 4}]}'
    ) % (ONE % 1)
    [append] = appends([batch.encode()], InputFormat.json, 1000)
    assert [x.version for x in append.expected] == ["exists", "absent", 4]


def test_an_expected_version_that_is_no_version_is_refused() -> None:
    batch = (
        '{"events": [%s], "expectedVersions": '
        '[{"aggregateType": "u", "aggregateId": "1", "version": "maybe"}]}'
    ) % (ONE % 1)
    with pytest.raises(InvalidArgument, match=r"expectedVersions\[0\]"):
        read(batch, InputFormat.json)


def test_an_empty_input_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="the input is empty"):
        read("\n\n")


def test_a_core_error_points_at_the_input_line_of_its_event() -> None:
    error = InvalidArgument("events[1].type must not be empty", field="events[1].type")
    assert located(error, [4, 7]) == "line 7: type must not be empty"
    assert located(error, []) == "events[1].type must not be empty"


def test_derived_locators_are_ulids_of_the_same_time_one_per_tenant() -> None:
    locator = new_ulid()
    derived = derived_locator("tenant-a", locator)
    assert is_ulid(derived) and derived[:10] == locator[:10]
    assert derived == derived_locator("tenant-a", locator)
    assert derived not in (locator, derived_locator("tenant-b", locator))
