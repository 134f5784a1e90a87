"""The event types and aggregate types a tenant has used, with localized names.

Names come from message catalogues (``messages/<language>.json``, keys ``EventTypes.<type>``
and ``AggregateTypes.<type>``); a type no catalogue knows reads as a sentence made of its
own words (``user.human.added`` -> "User human added").
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import msgspec

from chronik.storage.ports import EventStore

LANGUAGES = ("en", "de")


class LocalizedType(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    key: str
    localized_message: str


@cache
def messages(language: str) -> dict[str, str]:
    text = resources.files("chronik.events").joinpath(f"messages/{language}.json").read_text()
    loaded: dict[str, str] = json.loads(text)
    return loaded


def readable(name: str) -> str:
    words = name.replace(".", " ").replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else name


def pick_language(accept_language: str | None) -> str:
    """The best of our languages for an ``Accept-Language`` header (English by default)."""
    if not accept_language:
        return "en"
    ranked = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower().split("-")[0]))
    for _, lang in sorted(ranked, key=lambda r: -r[0]):
        if lang in LANGUAGES:
            return lang
    return "en"


def localize(kind: str, name: str, language: str = "en") -> LocalizedType:
    prefix = "EventTypes" if kind == "event" else "AggregateTypes"
    key = f"{prefix}.{name}"
    message = messages(language).get(key) or messages("en").get(key) or readable(name)
    return LocalizedType(type=name, key=key, localized_message=message)


class Catalogue:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def event_types(self, tenant_id: str, language: str = "en") -> list[LocalizedType]:
        return [localize("event", n, language) for n in await self._store.names(tenant_id, "event")]

    async def aggregate_types(self, tenant_id: str, language: str = "en") -> list[LocalizedType]:
        names = await self._store.names(tenant_id, "aggregate")
        return [localize("aggregate", n, language) for n in names]
