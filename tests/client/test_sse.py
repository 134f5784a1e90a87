"""The client's Server-Sent Events parser: messages as the HTML standard dispatches them."""

from __future__ import annotations

from chronik.client.sse import Message, Parser


def parse(text: str) -> list[Message]:
    parser = Parser()
    return [m for line in text.split("\n") if (m := parser.line(line)) is not None]


def test_data_lines_join_and_comments_and_unknown_fields_are_skipped() -> None:
    text = ': live\n\nid: 7\ndata: {\ndata:  "a": 1}\nretry: 10\nfoo\n\n: keep-alive\n\n'
    assert parse(text) == [Message("message", '{\n "a": 1}', "7")]


def test_the_id_carries_over_and_the_event_type_does_not() -> None:
    text = "event: dropped\nid: 9\ndata: x\n\ndata: y\n\n"
    assert parse(text) == [Message("dropped", "x", "9"), Message("message", "y", "9")]


def test_a_message_cut_off_by_the_end_of_the_stream_is_not_dispatched() -> None:
    assert parse("id: 3\ndata: whole\n\nid: 4\ndat") == [Message("message", "whole", "3")]
