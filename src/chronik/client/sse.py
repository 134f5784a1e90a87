"""A Server-Sent Events parser, as the HTML standard describes the format: lines in,
messages out (comments and ``retry:`` are skipped, a message ends at a blank line)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One dispatched message: its ``event:`` type (``message`` when none), its ``data:``
    lines joined by newlines, and the ``id:`` in force when it ended (``None``: none yet)."""

    event: str
    data: str
    id: str | None


class Parser:
    """Feed it a stream's lines, without their line endings; :meth:`line` answers the
    message a blank line completes. A message cut off by the end of the stream is never
    answered: what was received of it is lost, as the standard says."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def line(self, line: str) -> Message | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: ": live", ": keep-alive"
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None  # "retry" and unknown fields are ignored

    def _dispatch(self) -> Message | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return Message(event or "message", "\n".join(data), self._id)
