"""``chronik events export | import``: a tenant's log and schedules as NDJSON, streamed both
ways: a backup that restores whole.

An export line is an :class:`~chronik.records.Event` with every field (Chronik's own records,
actions and flows, among them), then one line per schedule with its state and failed job
(``{"schedule": …, "failed_job": …}``). Import turns each run of consecutive lines of one append
(same request id, editor and commit time) back into one append with the same locators, request
id and editor, expecting each aggregate at the version it had in the source: a re-import writes
nothing, and an import into a tenant whose history differs is refused instead of interleaved.
Chronik's own records and the schedules go through their services' checks, never raw.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, BinaryIO

import msgspec
import typer
from rich.progress import Progress, TaskID

from chronik.cli.context import (
    CreateOption,
    DatabaseUrlOption,
    DataOption,
    TenantOption,
    counted,
    reading,
    run,
    say,
    settings_from,
    tenant_of,
)
from chronik.cli.input import located, malformed
from chronik.cli.output import console, ndjson, progress
from chronik.errors import ChronikError, Conflict, InvalidArgument
from chronik.records import Editor, Event, ExpectedVersion, NewEvent, reserved
from chronik.schedules import ScheduleRecord
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings


def export(
    file: Annotated[
        str, typer.Argument(metavar="[FILE]", help="Where to write (default: stdout).")
    ] = "-",
    all_tenants: Annotated[bool, typer.Option(help="Export the events of every tenant.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Events per read.")] = 1000,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Write every event of a tenant (or of all) as NDJSON, in sequence order.

    Reads in batches up to the head at the start, in constant memory; events committed
    meanwhile wait for the next export. FILE appears only once it is complete.
    """
    if all_tenants and tenant:
        raise typer.BadParameter("give --tenant or --all-tenants, not both", param_hint="--tenant")
    settings = settings_from(data, database_url)
    run(lambda: _export(settings, file, tenant, all_tenants, batch_size))


@contextmanager
def _writing(path: str) -> Iterator[BinaryIO]:
    """stdout for ``-``; otherwise a temporary file moved to ``path`` once it is whole."""
    if path == "-":
        yield sys.stdout.buffer
        return
    target = Path(path)
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


async def _export(
    settings: Settings, file: str, tenant: str, all_tenants: bool, batch_size: int
) -> None:
    exported = schedules = 0
    async with await Chronik.open(settings) as chronik:
        tenant_id = None if all_tenants else (await tenant_of(chronik, tenant)).id
        heads = await chronik.events.heads()
        if tenant_id is not None:
            heads = {tenant_id: heads[tenant_id]}
        with _writing(file) as sink, progress(console(stderr=True)) as bar:
            task = bar.add_task("export", total=sum(heads.values()))
            for of, head in heads.items():
                # Up to the head each tenant had when the export began, tenant by tenant
                # (sequences are per tenant); the port, not EventLog.follow, which would wait.
                after = 0
                while after < head:
                    events = await chronik.db.events.read_after(of, after, batch_size)
                    events = [e for e in events if e.sequence <= head]
                    if not events:
                        break
                    sink.write(ndjson(events))
                    sink.flush()
                    exported += len(events)
                    after = events[-1].sequence
                    bar.advance(task, len(events))
            for of in [tenant_id] if tenant_id else [t.id for t in await chronik.tenants.list()]:
                async for record in chronik.schedules.export(of):
                    sink.write(_encode(record) + b"\n")
                    schedules += 1
    say(f"exported {counted(exported)}{_and_schedules(schedules)}")


def _and_schedules(count: int) -> str:
    """`` and 1 schedule``, `` and 2 schedules``; nothing for none."""
    return f" and {counted(count, 'schedule')}" if count else ""


_encode = msgspec.json.Encoder().encode


def import_(
    file: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="An export (default: stdin).")
    ] = "-",
    in_flight: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", help="Appends submitted at once; they commit as one group."
        ),
    ] = 32,
    new_locators: Annotated[
        bool,
        typer.Option(
            help="Derive new locators from the old ones and the tenant (still the same on "
            "every run): needed to copy events into another tenant of the same database, "
            "where the old locators are taken."
        ),
    ] = False,
    create: CreateOption = False,
    tenant: TenantOption = "",
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
) -> None:
    """Append the events of an export to a tenant, streamed in constant memory.

    Each of the export's appends becomes one append again, with its locators, request id and
    editor; aggregates must be at the versions the export had. Events already present (same
    locators) are skipped, so an interrupted import is resumed by running it again.
    Sequences, tenant and commit times are the importing database's own.
    """
    settings = settings_from(data, database_url, create=create)
    run(lambda: _Import(settings, in_flight, new_locators).run(file, tenant))


@dataclass(slots=True)
class _Unit:
    """The events of one source append, or one schedule, and their input lines."""

    events: list[Event] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    schedule: ScheduleRecord | None = None
    alone: bool = False
    """Whether it needs a wave of its own: a schedule, or Chronik's own records."""


def _units(lines: Iterable[bytes], most: int) -> Iterator[_Unit]:
    decode = msgspec.json.Decoder(Event).decode
    decode_schedule = msgspec.json.Decoder(ScheduleRecord).decode
    unit, key = _Unit(), None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            if line.startswith(b'{"schedule"'):
                if unit.events:
                    yield unit
                    unit, key = _Unit(), None
                yield _Unit(lines=[n], schedule=decode_schedule(line), alone=True)
                continue
            event = decode(line)
        except msgspec.ValidationError as exc:
            raise InvalidArgument(f"line {n}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise malformed(line.rstrip(), exc, n) from None
        this = (
            event.tenant_id,
            event.request_id,
            event.editor_user_id,
            event.editor_service,
            event.created_at,
        )
        if unit.events and (this != key or len(unit.events) == most):
            yield unit
            unit = _Unit()
        key = this
        unit.events.append(event)
        unit.lines.append(n)
        unit.alone = unit.alone or reserved(event.aggregate_type)
    if unit.events:
        yield unit


_SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def derived_locator(tenant_id: str, locator: str) -> str:
    """A ULID with the time of ``locator`` and 80 bits of a hash of it and the tenant."""
    noise = int.from_bytes(hashlib.sha256(f"{tenant_id}/{locator}".encode()).digest()[:10])
    return locator[:10] + "".join(_SYMBOLS[(noise >> shift) & 31] for shift in range(75, -1, -5))


class _Import:
    """One import: appends submitted in waves that share one group commit.

    A wave waits for the one before it: of two groups in flight at once, PostgreSQL may
    commit the second first, and the import must keep the export's order. The first
    refused append stops the import after its wave.
    """

    def __init__(self, settings: Settings, in_flight: int, new_locators: bool) -> None:
        self._settings = settings
        self._in_flight = in_flight
        self._new_locators = new_locators
        self.imported = 0
        self.schedules = 0
        self.present = 0

    async def run(self, file: str, tenant: str) -> None:
        with reading(file) as source, progress(console(stderr=True)) as bar:
            size = os.fstat(source.fileno()).st_size if source.seekable() else 0
            task = bar.add_task("import", total=size or None)
            async with await Chronik.open(self._settings) as chronik:
                tenant_id = (await tenant_of(chronik, tenant)).id
                try:
                    units = _units(
                        self._counted(source, bar, task), self._settings.max_batch_events
                    )
                    for wave in self._waves(units):
                        await self._commit(chronik, tenant_id, wave)
                finally:
                    say(
                        f"imported {counted(self.imported)}{_and_schedules(self.schedules)}; "
                        f"{self.present} {'was' if self.present == 1 else 'were'} already present"
                    )

    def _waves(self, units: Iterator[_Unit]) -> Iterator[list[_Unit]]:
        """Units in waves of ``in_flight`` appends and at most one group's worth of events;
        an input error comes after the wave of the units before it.

        A wave holds one append per aggregate: an append that builds on another is sent only
        once that one is stored, so none lands on top of a refused one. Chronik's own records
        and schedules travel in waves of their own: their checks read what came before them
        (a flow binds actions restored earlier).
        """
        most = self._settings.max_batch_events
        wave: list[_Unit] = []
        events = 0
        aggregates: set[tuple[str, str]] = set()
        try:
            for unit in units:
                touched = {(e.aggregate_type, e.aggregate_id) for e in unit.events}
                if wave and (
                    unit.alone
                    or wave[0].alone
                    or len(wave) == self._in_flight
                    or events + len(unit.events) > most
                    or not aggregates.isdisjoint(touched)
                ):
                    yield wave
                    wave, events, aggregates = [], 0, set()
                wave.append(unit)
                events += len(unit.events)
                aggregates |= touched
        except ChronikError:
            if wave:
                yield wave
            raise
        if wave:
            yield wave

    @staticmethod
    def _counted(source: BinaryIO, bar: Progress, task: TaskID) -> Iterator[bytes]:
        for line in source:
            bar.advance(task, len(line))
            yield line

    async def _commit(self, chronik: Chronik, tenant_id: str, wave: list[_Unit]) -> None:
        schedule = wave[0].schedule
        if schedule is not None:  # a wave of its own
            try:
                restored = await chronik.schedules.restore(tenant_id, schedule)
            except ChronikError as exc:
                raise type(exc)(f"line {wave[0].lines[0]}: {exc.message}", **exc.details) from None
            self.schedules += restored
            self.present += not restored
            return
        head = await chronik.events.head(tenant_id)
        # Every task is created before any runs, so the whole wave queues as one group.
        tasks = [asyncio.ensure_future(self._append(chronik, tenant_id, u)) for u in wave]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        failure: BaseException | None = None
        for unit, outcome in zip(wave, outcomes, strict=True):
            if isinstance(outcome, Conflict):
                # Perhaps committed out of order; now that the wave is done, order holds.
                outcome = await self._retry(chronik, tenant_id, unit)
            if isinstance(outcome, BaseException):
                failure = failure or outcome
            elif outcome[0].sequence > head:
                self.imported += len(outcome)
            else:
                self.present += len(outcome)
        if failure is not None:
            raise failure

    async def _retry(
        self, chronik: Chronik, tenant_id: str, unit: _Unit
    ) -> list[Event] | BaseException:
        try:
            return await self._append(chronik, tenant_id, unit)
        except ChronikError as exc:
            return exc

    async def _append(self, chronik: Chronik, tenant_id: str, unit: _Unit) -> list[Event]:
        first = unit.events[0]
        expected: dict[tuple[str, str], int] = {}
        for e in unit.events:
            expected.setdefault((e.aggregate_type, e.aggregate_id), e.aggregate_version - 1)
        try:
            return await chronik.restore(
                tenant_id,
                [
                    NewEvent(
                        aggregate_type=e.aggregate_type,
                        aggregate_id=e.aggregate_id,
                        type=e.type,
                        payload=e.payload,
                        resource_owner=e.resource_owner,
                        revision=e.revision,
                        correlation_id=e.correlation_id,
                        causation_id=e.causation_id,
                        metadata=e.metadata,
                        locator=(
                            derived_locator(tenant_id, e.locator)
                            if self._new_locators
                            else e.locator
                        ),
                    )
                    for e in unit.events
                ],
                expected=[
                    ExpectedVersion(aggregate_type=t, aggregate_id=i, version=v)
                    for (t, i), v in expected.items()
                ],
                request_id=first.request_id,
                editor=Editor(user_id=first.editor_user_id, service=first.editor_service),
            )
        except ChronikError as exc:
            message = located(exc, unit.lines)
            if not message.startswith("line "):
                message = f"line {unit.lines[0]}: {message}"
            if isinstance(exc, Conflict) and "expected_version" not in exc.details:
                message += (
                    "; to copy events into another tenant of the same database, "
                    "import with --new-locators"
                )
            raise type(exc)(message, **exc.details) from None
