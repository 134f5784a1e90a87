"""ZITADEL's ListActions semantics over the action list: filters ANDed, the eight text
methods (the value is plain text: ``%`` and ``_`` match themselves), one sorting column,
offset and limit, descending unless ``asc``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from chronik.actions.model import Action
from chronik.errors import InvalidArgument

TextMethod = Literal[
    "EQUALS",
    "EQUALS_IGNORE_CASE",
    "STARTS_WITH",
    "STARTS_WITH_IGNORE_CASE",
    "CONTAINS",
    "CONTAINS_IGNORE_CASE",
    "ENDS_WITH",
    "ENDS_WITH_IGNORE_CASE",
]
TEXT_METHODS: tuple[TextMethod, ...] = (
    "EQUALS",
    "EQUALS_IGNORE_CASE",
    "STARTS_WITH",
    "STARTS_WITH_IGNORE_CASE",
    "CONTAINS",
    "CONTAINS_IGNORE_CASE",
    "ENDS_WITH",
    "ENDS_WITH_IGNORE_CASE",
)
SortingColumn = Literal["UNSPECIFIED", "NAME", "ID", "STATE"]

_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "EQUALS": str.__eq__,
    "STARTS_WITH": str.startswith,
    "CONTAINS": str.__contains__,
    "ENDS_WITH": str.endswith,
}


def text_matches(method: TextMethod, text: str, value: str) -> bool:
    """Whether ``text`` matches ``value`` by ``method``."""
    compare = _COMPARE[method.removesuffix("_IGNORE_CASE")]
    if method.endswith("_IGNORE_CASE"):
        return compare(text.casefold(), value.casefold())
    return compare(text, value)


@dataclass(frozen=True, slots=True)
class NameQuery:
    name: str
    method: TextMethod = "EQUALS"


@dataclass(frozen=True, slots=True)
class ActionQuery:
    offset: int = 0
    limit: int = 0
    """0 takes the configured default; above the configured maximum is an error."""
    asc: bool = False
    sorting_column: SortingColumn = "UNSPECIFIED"
    ids: tuple[str, ...] = ()
    names: tuple[NameQuery, ...] = ()
    states: tuple[str, ...] = field(default=())


def _sort_key(column: SortingColumn) -> Callable[[Action], tuple[str, ...]]:
    if column == "NAME":
        return lambda a: (a.name.casefold(), a.name, a.id)
    if column == "STATE":
        return lambda a: (a.state, a.id)
    return lambda a: (a.id,)  # ids are ULIDs: creation order


def select(
    actions: Sequence[Action], query: ActionQuery, *, default_limit: int, max_limit: int
) -> tuple[int, list[Action]]:
    """``(total matching, the page)``."""
    if query.limit > max_limit:
        raise InvalidArgument(
            f"limit {query.limit} is above the maximum of {max_limit}",
            field="query.limit",
            limit=max_limit,
        )
    if query.offset < 0 or query.limit < 0:
        raise InvalidArgument("offset and limit must not be negative", field="query")
    found = [
        a
        for a in actions
        if all(a.id == i for i in query.ids)
        and all(text_matches(n.method, a.name, n.name) for n in query.names)
        and all(a.state == s for s in query.states)
    ]
    found.sort(key=_sort_key(query.sorting_column), reverse=not query.asc)
    limit = query.limit or default_limit
    return len(found), found[query.offset : query.offset + limit]
