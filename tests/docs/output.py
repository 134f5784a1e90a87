"""Whether the output a document shows is what its command printed.

Both sides are normalised first: ids (ULIDs, UUIDs), times, durations, tokens and decimal
fractions (measurements, such as a run's milliseconds) become placeholders, runs of blanks
one space, blank lines go. An expected line that is only ``…`` (or ``...``) stands for any
number of lines; inside a line it stands for any text. When both sides are JSON they are
compared as values: ``"…"`` stands for any value, a ``"…"`` key for any further keys, a
last list item ``"…"`` for any further items.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

_VOLATILE = (
    (re.compile(r"\bchk_[A-Za-z0-9_-]+"), "<token>"),
    (re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        ),
        "<time>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|µs|s)\b"), "<duration>"),
    (re.compile(r"\b\d+\.\d+\b"), "<decimal>"),
)
_ELLIPSES = ("…", "...")


def normalise(text: str) -> list[str]:
    """The lines of ``text`` as compared: placeholders for what changes from run to run."""
    lines = []
    for line in text.splitlines():
        for pattern, placeholder in _VOLATILE:
            line = pattern.sub(placeholder, line)
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return lines


def _line_pattern(expected: list[str]) -> re.Pattern[str]:
    parts = []
    for line in expected:
        if line in _ELLIPSES:
            parts.append(r"(?:[^\n]*\n)*")
            continue
        pieces = re.split(r"…|\.\.\.", line)
        parts.append("[^\n]*".join(re.escape(piece) for piece in pieces) + r"\n")
    return re.compile("".join(parts))


def _is_ellipsis(value: object) -> bool:
    return isinstance(value, str) and value in _ELLIPSES


def _json_matches(expected: Any, actual: Any) -> bool:
    if _is_ellipsis(expected):
        return True
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        open_ended = any(_is_ellipsis(key) for key in expected)
        keys = {key for key in expected if not _is_ellipsis(key)}
        if not keys <= actual.keys() or (not open_ended and keys != actual.keys()):
            return False
        return all(_json_matches(expected[key], actual[key]) for key in keys)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if expected and _is_ellipsis(expected[-1]):
            head = expected[:-1]
            return len(actual) >= len(head) and all(map(_json_matches, head, actual))
        return len(expected) == len(actual) and all(map(_json_matches, expected, actual))
    if isinstance(expected, str) and isinstance(actual, str):
        return (
            _line_pattern(normalise(expected) or [""]).fullmatch(
                "\n".join(normalise(actual) or [""]) + "\n"
            )
            is not None
        )
    return bool(expected == actual and type(expected) is type(actual))


def _as_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def difference(expected: str, actual: str) -> str | None:
    """``None`` when ``actual`` shows what ``expected`` says; otherwise a readable diff."""
    expected_is_json, expected_value = _as_json(expected)
    actual_is_json, actual_value = _as_json(actual)
    if expected_is_json and actual_is_json:
        if _json_matches(expected_value, actual_value):
            return None
        shown = json.dumps(actual_value, indent=2, ensure_ascii=False)
        return f"JSON differs; the document shows:\n{expected}\nthe command printed:\n{shown}"
    want, got = normalise(expected), normalise(actual)
    if _line_pattern(want).fullmatch("".join(line + "\n" for line in got)):
        return None
    diff = difflib.unified_diff(want, got, "shown", "printed", lineterm="")
    return "(normalised)\n" + "\n".join(diff)
