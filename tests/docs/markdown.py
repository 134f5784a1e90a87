"""The fenced blocks of a Markdown document, each with the ``doc-test`` markers written just
before it (the convention is described in :mod:`tests.docs.runner`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SHELL = frozenset({"sh", "bash", "shell"})
CONSOLE = "console"
PYTHON = "python"
RUNNABLE = SHELL | {CONSOLE, PYTHON}

NEEDS_REASON = frozenset({"skip", "no-compare"})
NEEDS_PATH = frozenset({"file"})
BARE = frozenset({"server", "output", "fails"})
KINDS = NEEDS_REASON | NEEDS_PATH | BARE | {"background"}

_MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<kind>[a-z-]+)(?P<rest>.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


class MarkerError(ValueError):
    """A marker that cannot be obeyed: unknown, without its reason or path, or not directly
    before a fenced block."""


@dataclass(frozen=True)
class Marker:
    kind: str
    argument: str
    """The reason (``skip``, ``no-compare``), the path (``file``), the readiness command
    (``background until COMMAND``); empty otherwise."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """The line of the opening fence, counted from 1."""
    language: str
    text: str
    markers: tuple[Marker, ...]

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    def marker(self, kind: str) -> Marker | None:
        return next((m for m in self.markers if m.kind == kind), None)

    @property
    def runs(self) -> bool:
        """Whether the block is a command or a program to run (not a file, not skipped)."""
        return (
            self.language in RUNNABLE
            and self.marker("skip") is None
            and self.marker("file") is None
            and self.marker("output") is None
        )


def _marker(line: str, number: int, path: Path) -> Marker | None:
    found = _MARKER.match(line)
    if found is None:
        return None
    kind, rest = found["kind"], found["rest"].strip()
    where = f"{path.name}:{number}"
    if kind not in KINDS:
        raise MarkerError(f"{where}: unknown marker 'doc-test: {kind}' (known: {sorted(KINDS)})")
    if kind in NEEDS_REASON:
        rest = rest.lstrip("\u2014\u2013-: ").strip()
        if not rest:
            raise MarkerError(f"{where}: 'doc-test: {kind}' needs a reason after it")
    elif kind in NEEDS_PATH:
        target = PurePosixPath(rest)
        if not rest or target.is_absolute() or ".." in target.parts:
            raise MarkerError(f"{where}: 'doc-test: file' needs a relative path inside the run")
    elif kind == "background":
        if rest and not rest.startswith("until "):
            raise MarkerError(f"{where}: 'doc-test: background' takes only 'until COMMAND'")
        rest = rest.removeprefix("until ").strip()
    elif rest:
        raise MarkerError(f"{where}: 'doc-test: {kind}' takes nothing after it, got {rest!r}")
    return Marker(kind, rest)


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the document, in order, with its markers."""
    found: list[Block] = []
    pending: list[Marker] = []
    pending_line = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        marker = _marker(line, number, path)
        if marker is not None:
            pending.append(marker)
            pending_line = pending_line or number
            continue
        opening = _FENCE.match(line)
        if opening is None:
            if line.strip() and pending:
                raise MarkerError(
                    f"{path.name}:{pending_line}: a doc-test marker must stand directly "
                    "before a fenced block"
                )
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        start = number
        body: list[str] = []
        while number < len(lines):
            inner = lines[number]
            number += 1
            stripped = inner.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                break
            body.append(inner[indent:] if inner[:indent].strip() == "" else inner.lstrip())
        language = (opening["info"].split() or [""])[0].lower()
        text = "\n".join(body) + "\n"
        found.append(Block(path, start, language, text, tuple(pending)))
        pending, pending_line = [], 0
    if pending:
        raise MarkerError(f"{path.name}:{pending_line}: a doc-test marker after the last block")
    return found
