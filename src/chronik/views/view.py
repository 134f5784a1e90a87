"""What a view is: a name, the events it consumes, a handler, and what to do when the
handler fails. Views are registered in a :class:`Registry`, from Python or from the
``chronik.views`` entry points of installed packages."""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from chronik.errors import InvalidArgument, NotFound
from chronik.retries import Backoff

if TYPE_CHECKING:
    from chronik.records import Event
    from chronik.views.rows import Rows


class Unprocessable(Exception):
    """Raised by a handler for an event it can never process (its payload breaks the rules
    the view relies on): the event is recorded as failed with the view's ``max_failures``
    and the view moves past it at once, whatever ``on_exhausted`` says; retries would only
    hold the view up. An operator's retry runs it again."""


Handler = Callable[["Event", "Rows"], Awaitable[None]]
Skips = Callable[[str], Awaitable[bool]]
Exhaust = Callable[["Event", str], Awaitable[bool]]
Exhausted = Literal["skip", "stop"]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")


@dataclass(frozen=True, slots=True)
class View:
    """A view (projection) fed from the log, per tenant, in sequence order.

    ``event_types`` and ``aggregate_types`` choose the events (none: every event). When
    ``handler`` raises, the event is recorded as failed and retried after ``backoff``; at
    ``max_failures`` it is skipped (``on_exhausted="skip"``) or the view stops and waits for
    an operator (``"stop"``).

    ``skips``, when given, is asked before each batch whether the view has nothing to do in
    a tenant (say, no flow is bound there): then it moves to the tenant's head without
    reading the events in between, at most once a second. ``on_commit=False`` makes the
    runner look at the view on its poll interval and when woken, not after every commit (for
    a view of rare events that its writers wake).

    ``keep_exhausted=False`` forgets the record of an event whose failures reached the
    maximum (it is neither retried nor listed); ``exhausted``, when given, is awaited with
    such an event and its error before the batch commits, and answers whether the view must
    stop there for now (whoever runs it decides when to go on). ``own_state=False``: the
    runner never creates the view's stored state (its owner does, at a chosen position), so
    a view whose state was removed is not run again from 0."""

    name: str
    handler: Handler
    database: str = "chronik"
    event_types: tuple[str, ...] = ()
    aggregate_types: tuple[str, ...] = ()
    max_failures: int = 5
    on_exhausted: Exhausted = "skip"
    backoff: Backoff = field(default_factory=Backoff)
    batch: int = 1000
    skips: Skips | None = None
    on_commit: bool = True
    keep_exhausted: bool = True
    exhausted: Exhaust | None = None
    own_state: bool = True

    def __post_init__(self) -> None:
        for what, value in (("name", self.name), ("database", self.database)):
            if not _NAME.fullmatch(value):
                raise InvalidArgument(
                    f"view {what} {value!r}: 1 to 200 letters, digits, '_', '.' or '-'"
                )
        if self.max_failures < 1:
            raise InvalidArgument("max_failures must be at least 1")
        if self.on_exhausted not in ("skip", "stop"):
            raise InvalidArgument("on_exhausted must be 'skip' or 'stop'")
        if self.batch < 1:
            raise InvalidArgument("batch must be at least 1")


class Registry:
    """The views one Chronik runs, by name."""

    def __init__(self) -> None:
        self._views: dict[str, View] = {}

    def add(self, view: View) -> View:
        if self._views.get(view.name, view) is not view:
            raise InvalidArgument(f"a view named {view.name!r} is already registered")
        self._views[view.name] = view
        return view

    def view(
        self,
        name: str,
        *,
        database: str = "chronik",
        event_types: tuple[str, ...] | list[str] = (),
        aggregate_types: tuple[str, ...] | list[str] = (),
        max_failures: int = 5,
        on_exhausted: Exhausted = "skip",
        backoff: Backoff | None = None,
        batch: int = 1000,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated ``async def handler(event, rows)`` as a view."""

        def register(handler: Handler) -> Handler:
            self.add(
                View(
                    name=name,
                    handler=handler,
                    database=database,
                    event_types=tuple(event_types),
                    aggregate_types=tuple(aggregate_types),
                    max_failures=max_failures,
                    on_exhausted=on_exhausted,
                    backoff=backoff or Backoff(),
                    batch=batch,
                )
            )
            return handler

        return register

    def get(self, name: str) -> View:
        try:
            return self._views[name]
        except KeyError:
            raise NotFound(f"view {name!r} not found") from None

    def __iter__(self) -> Iterator[View]:
        return iter(sorted(self._views.values(), key=lambda v: v.name))

    def __len__(self) -> int:
        return len(self._views)

    def load_entry_points(self, group: str = "chronik.views") -> list[str]:
        """Register what installed packages offer under ``group``: a :class:`View`, or a
        :class:`Registry` whose views are all taken. Returns the entry points loaded."""
        loaded = []
        for entry in entry_points(group=group):
            self.take(entry.load(), f"entry point {entry.name!r} ({entry.value})")
            loaded.append(entry.name)
        return loaded

    def take(self, found: object, source: str) -> None:
        """Register ``found``: a :class:`View`, or every view of a :class:`Registry`."""
        if isinstance(found, View):
            self.add(found)
        elif isinstance(found, Registry):
            for view in found:
                self.add(view)
        else:
            raise InvalidArgument(f"{source} is neither a View nor a Registry")


def installed(specs: tuple[str, ...] | list[str] = ()) -> Registry:
    """The views of the installed packages' ``chronik.views`` entry points, and those
    named by ``specs`` (``module:attribute``, a :class:`View` or a :class:`Registry`)."""
    registry = Registry()
    registry.load_entry_points()
    for spec in specs:
        registry.take(_load(spec), spec)
    return registry


def _load(spec: str) -> object:
    """``package.module:attribute``, or ``path/to/file.py:attribute``."""
    module_name, _, attribute = spec.rpartition(":")
    if not module_name or not attribute:
        raise InvalidArgument(f"views {spec!r}: give them as module:attribute")
    try:
        found: object = _module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidArgument(f"views {spec!r} cannot be loaded: {exc}") from None
    return found


def _module(name: str) -> ModuleType:
    if not name.endswith(".py"):
        return import_module(name)
    path = Path(name).resolve()
    loaded = sys.modules.get(f"chronik_views_{path}")
    if loaded is not None:
        return loaded
    if not path.is_file():
        raise ImportError(f"no file {name}")
    module_spec = spec_from_file_location(f"chronik_views_{path}", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {name}")
    module = module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module
