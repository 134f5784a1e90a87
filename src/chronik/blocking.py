"""Blocking views of async objects: a coroutine method becomes a blocking call run on one
event-loop thread, an async iterator an iterator (see :class:`Blocking`).

:class:`chronik.sync.SyncChronik` (the embedded API) and :class:`chronik.client.Client`
(the remote one) are both such views of their async core, so nothing is implemented twice.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import CancelledError, Future
from contextlib import ExitStack
from typing import Any, Generic, Protocol, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

T = TypeVar("T")


class Loop:
    """The event-loop thread the async objects live on, and the blocking iterators still
    open on it (closed before the loop stops, so no async generator outlives it)."""

    def __init__(self, portal: BlockingPortal) -> None:
        self.portal = portal
        self.iterators: weakref.WeakSet[BlockingIterator[Any]] = weakref.WeakSet()

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` on the loop thread, awaited if it returns an
        awaitable (plain methods run there too: some start tasks on the loop)."""

        async def invoke() -> Any:
            result = function(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return self.blocking(self.portal.call(invoke))

    def blocking(self, value: Any) -> Any:
        """``value`` as blocking code may use it: an async iterator becomes an iterator, an
        object with async methods a :class:`Blocking` proxy, anything else stays as it is."""
        if isinstance(value, AsyncIterator):
            iterator = BlockingIterator(value, self.portal)
            self.iterators.add(iterator)
            return iterator
        if _is_async(type(value)):
            return Blocking(value, self)
        return value

    def close_iterators(self) -> None:
        for iterator in list(self.iterators):
            iterator.close()


class BlockingIterator(Generic[T]):
    """An async iterator as a blocking one. :meth:`close` (also on ``break``, when the
    iterator is dropped, or when :class:`SyncChronik` closes) closes the async source, and
    ends a ``next()`` waiting for it in another thread."""

    def __init__(self, source: AsyncIterator[T], portal: BlockingPortal) -> None:
        self._source = source
        self._portal = portal
        self._lock = threading.Lock()
        self._step: Future[list[T]] | None = None
        self._done = False

    def __iter__(self) -> BlockingIterator[T]:
        return self

    def __next__(self) -> T:
        with self._lock:
            if self._done:
                raise StopIteration
            self._step = step = self._portal.start_task_soon(self._next)
        try:
            found = step.result()
        except CancelledError:
            raise StopIteration from None  # closed while waiting: the source ended with it
        except BaseException:
            # The source raised (it is finished), or this thread was interrupted (Ctrl-C)
            # while waiting: the wait must not outlive it.
            self._done = True
            step.cancel()
            raise
        finally:
            self._step = None
        if not found:
            self._done = True
            raise StopIteration
        return found[0]

    async def _next(self) -> list[T]:
        """The next item, or none at the end."""
        try:
            return [await anext(self._source)]
        except StopAsyncIteration:
            return []

    def close(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            step = self._step
        if step is not None and step.cancel():
            return  # cancelled where it waited, the source is finished
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            self._portal.call(aclose)

    def __del__(self) -> None:
        self.close()


_ASYNC_CLASSES: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def _is_async(cls: type) -> bool:
    """Whether ``cls`` has a public async method, the mark of a service (records do not)."""
    found = _ASYNC_CLASSES.get(cls)
    if found is None:
        found = _ASYNC_CLASSES[cls] = any(
            inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member)
            for klass in cls.__mro__
            for name, member in vars(klass).items()
            if not name.startswith("_")
        )
    return found


class Blocking(Generic[T]):
    """A blocking view of the async object ``T``, with the same attributes.

    Coroutine methods become blocking calls (run on the event-loop thread, their result
    returned); async iterators and async generator methods become iterators that close
    their async source when the caller stops (a ``break``, or :meth:`SyncChronik.close`);
    attributes that are themselves async objects (services, a runner) are proxied the same
    way; plain attributes and records pass through unchanged; private names are not offered.

    Typing: the services of :class:`SyncChronik` are declared ``Blocking[EventLog]``,
    ``Blocking[Views]``…, naming the async class each mirrors; the calls are typed ``Any``,
    because Python's type system cannot derive ``def f() -> T`` from ``async def f() -> T``.
    Their signatures and docstrings are the async ones (``help()`` shows them).
    """

    __slots__ = ("_loop", "_target")

    def __init__(self, target: T, loop: Loop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)  # private to the async object (and this proxy's own)
        value = getattr(self._target, name)
        if inspect.ismethod(value) or inspect.isfunction(value):
            return self._blocking_call(value)
        return self._loop.blocking(value)

    def _blocking_call(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.call(method, *args, **kwargs)

        return call

    def __dir__(self) -> list[str]:
        return [name for name in dir(self._target) if not name.startswith("_")]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._target!r})"


class Closes(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=Closes)


class Owning(Blocking[C]):
    """A :class:`Blocking` view that owns its event-loop thread and its target (whose async
    ``close()`` releases what it holds): :meth:`close`, or leaving its ``with``, stops what
    is still iterating, closes the target and ends the thread."""

    __slots__ = ("_closed", "_stack")

    def __init__(self, target: C, loop: Loop, stack: ExitStack) -> None:
        super().__init__(target, loop)
        self._stack = stack
        self._closed = False

    @staticmethod
    def start(opening: Callable[[], Awaitable[C]]) -> tuple[C, Loop, ExitStack]:
        """Start an event-loop thread and run ``opening`` on it: what it opened, the loop,
        and the stack that ends the thread (already ended if ``opening`` raised)."""
        stack = ExitStack()
        portal = stack.enter_context(start_blocking_portal())
        try:
            target = portal.call(opening)
        except BaseException:
            stack.close()
            raise
        return target, Loop(portal), stack

    def close(self) -> None:
        """Stop what is still iterating, close the target and end the thread; closing again
        does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.close_iterators()
            self._loop.portal.call(self._target.close)
        finally:
            self._stack.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
