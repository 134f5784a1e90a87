"""How results are written: NDJSON/JSON of the records as they are, or tables for people.

Stored events are encoded by msgspec straight from :class:`~chronik.records.Event`: snake_case
field names, ``created_at`` in RFC 3339. That is also the format of ``export`` and ``import``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from chronik.cli.context import say
from chronik.records import Event

_encoder = msgspec.json.Encoder()


class Output(StrEnum):
    """Formats of a bounded result."""

    table = "table"
    json = "json"
    ndjson = "ndjson"


class Listing(StrEnum):
    """Formats of a result printed whole or as a stream of JSON lines."""

    table = "table"
    json = "json"


ListingOption = Annotated[
    Listing,
    typer.Option("--output", "-o", help="table, for people; or json, a JSON array of the records."),
]
DocumentOption = Annotated[
    Listing,
    typer.Option("--output", "-o", help="table, for people; or json, one JSON document."),
]


class Stream(StrEnum):
    """Formats of an endless stream."""

    ndjson = "ndjson"
    table = "table"


def write(data: bytes) -> None:
    """Write to stdout now: a follower reading our output should not wait for a buffer."""
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def ndjson(events: Sequence[Event]) -> bytes:
    return _encoder.encode_lines(events)


def json_document(value: Any) -> bytes:
    return _encoder.encode(value) + b"\n"


def console(*, stderr: bool = False) -> Console:
    """A console that never reads markup from data and, when not a terminal, never wraps."""
    out = Console(stderr=stderr, markup=False, emoji=False, highlight=False)
    if not out.is_terminal:
        out.width = 1 << 12
    return out


def progress(out: Console) -> Progress:
    """A progress bar on ``out``, shown only on a terminal (logs get the summary alone)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=out,
        disable=not out.is_terminal,
        transient=True,
    )


def table(*columns: str, show_header: bool = True) -> Table:
    """The one table style of every command: no borders, a header row of plain column names,
    columns two spaces apart; the caller may add right-aligned columns of its own."""
    grid = Table(box=None, pad_edge=False, show_header=show_header)
    for column in columns:
        grid.add_column(column)
    return grid


def listing(columns: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str) -> None:
    """A table of ``rows`` on stdout; with no rows, ``no <empty>`` on stderr and nothing on
    stdout, the same for every list."""
    grid = table(*columns)
    for row in rows:
        grid.add_row(*row)
    if grid.row_count:
        show(grid)
    else:
        nothing(empty)


def show(grid: Table, out: Console | None = None) -> None:
    """Print a table with its lines ending where their text does (rich pads every cell to
    its column's width, the last one too)."""
    out = out or console()
    with out.capture() as captured:
        out.print(grid)
    text = "".join(f"{line.rstrip()}\n" for line in captured.get().splitlines())
    out.file.write(text)
    out.file.flush()


def nothing(what: str) -> None:
    """What every list says when it found nothing: ``no events``, ``no runs``."""
    say(f"no {what}")


def _aggregate(e: Event) -> str:
    return f"{e.aggregate_type}/{e.aggregate_id}"


class EventTable:
    """Tables of events printed batch by batch (so a stream needs no memory): the header
    comes with the first batch only.

    ``brief`` shows what an append returns (where each event went); otherwise what
    happened, when and by whom.
    """

    def __init__(self, out: Console, *, brief: bool = False, tenants: bool = False) -> None:
        self._out = out
        self._brief = brief
        self._tenants = tenants
        self._header = True

    def print(self, events: Sequence[Event]) -> None:
        if not events:
            return
        grid = table(show_header=self._header)
        self._header = False
        grid.add_column("sequence", justify="right", min_width=8)
        if self._brief:
            grid.add_column("locator", min_width=26)
            grid.add_column("aggregate", min_width=16)
            grid.add_column("version", justify="right", min_width=7)
            for e in events:
                grid.add_row(str(e.sequence), e.locator, _aggregate(e), str(e.aggregate_version))
        else:
            if self._tenants:
                grid.add_column("tenant", min_width=36)
            grid.add_column("created at", min_width=32)
            grid.add_column("type", min_width=16)
            grid.add_column("aggregate", min_width=16)
            grid.add_column("version", justify="right", min_width=7)
            grid.add_column("editor", min_width=8)
            grid.add_column("payload", overflow="ellipsis", no_wrap=True, max_width=60)
            for e in events:
                cells = [str(e.sequence)]
                if self._tenants:
                    cells.append(e.tenant_id)
                cells += [
                    e.created_at.isoformat(),
                    e.type,
                    _aggregate(e),
                    str(e.aggregate_version),
                    e.editor_user_id or e.editor_service,
                    _encoder.encode(e.payload).decode(),
                ]
                grid.add_row(*cells)
        show(grid, self._out)
