"""Loads a backend's ``queries.sql``: blocks headed ``-- name: <name>``, looked up by name."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: ([a-z_0-9]+)\s*$", re.MULTILINE)


@cache
def load(package: str, filename: str = "queries.sql") -> dict[str, str]:
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines() if not ln.lstrip().startswith("--")]
        sql = "\n".join(lines).strip().rstrip(";")
        if name in queries:
            raise ValueError(f"{package}/{filename}: query {name!r} defined twice")
        queries[name] = sql
    return queries


def migrations(package: str) -> list[tuple[int, str, str]]:
    """The numbered migrations of a backend, ``(version, name, sql)``, in order."""
    folder = resources.files(package).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_([a-z_0-9]+)\.sql", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{package}: migrations must be numbered 1..n without gaps: {versions}")
    return found


def schema(package: str) -> str:
    return resources.files(package).joinpath("schema.sql").read_text(encoding="utf-8")
