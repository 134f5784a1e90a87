"""A view's own rows: JSON documents by key, per view and tenant, written in the same
transaction as the view's position, so a crash never applies an event twice."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from chronik.storage.ports import ViewStore

_MISSING = object()
_DELETED = object()
_encode = msgspec.json.encode
_decode = msgspec.json.decode


class Rows:
    """What a handler reads and writes. Writes of one event become visible to the next
    event at once, and reach the database with the batch's position; the writes of an
    event whose handler raised are dropped."""

    def __init__(self, store: ViewStore, view: str, tenant_id: str) -> None:
        self._store = store
        self._view = view
        self.tenant_id = tenant_id
        self._cache: dict[str, Any] = {}  # committed state, as far as read
        self._batch: dict[str, Any] = {}  # written by the batch's successful events
        self._event: dict[str, Any] = {}  # written by the event being handled
        self._event_texts: dict[str, str] = {}  # their JSON, encoded once, at put
        self._batch_texts: dict[str, str] = {}

    async def get(self, key: str, default: Any = None) -> Any:
        for layer in (self._event, self._batch, self._cache):
            value = layer.get(key, _MISSING)
            if value is not _MISSING:
                return default if value is _DELETED else value
        await self.load([key])
        value = self._cache[key]
        return default if value is _DELETED else value

    async def load(self, keys: Iterable[str]) -> None:
        """Read ``keys`` from the database in one query (a handler may prefetch)."""
        missing = [k for k in keys if k not in self._cache]
        if not missing:
            return
        found = await self._store.rows(self._view, self.tenant_id, missing)
        for key in missing:
            text = found.get(key)
            self._cache[key] = _DELETED if text is None else _decode(text)

    def put(self, key: str, value: Any) -> None:
        """Store a JSON-encodable ``value`` under ``key``."""
        self._event_texts[key] = _encode(value).decode()  # fails in the handler, not at commit
        self._event[key] = value

    def delete(self, key: str) -> None:
        self._event[key] = _DELETED
        self._event_texts.pop(key, None)

    # -- for the runner --------------------------------------------------------------------

    def keep_event(self) -> None:
        self._batch.update(self._event)
        self._batch_texts.update(self._event_texts)
        self._event.clear()
        self._event_texts.clear()

    def drop_event(self) -> None:
        self._event.clear()
        self._event_texts.clear()

    def changes(self) -> tuple[dict[str, str], set[str]]:
        deletes = {k for k, v in self._batch.items() if v is _DELETED}
        puts = {k: t for k, t in self._batch_texts.items() if k not in deletes}
        return puts, deletes

    def committed(self) -> None:
        self._cache.update(self._batch)
        self._batch.clear()
        self._batch_texts.clear()

    def forget(self) -> None:
        """After a refused commit: nothing read so far can be trusted."""
        self._cache.clear()
        self._batch.clear()
        self._batch_texts.clear()
        self.drop_event()
