"""Which views a process runs: entry points of installed packages, ``--views`` names, the
example of the docs, and the mistakes a registration can make."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chronik.errors import InvalidArgument, NotFound
from chronik.ids import new_ulid
from chronik.records import Event
from chronik.views import Backoff, Registry, Rows, View, installed

EXAMPLE = Path(__file__).parents[2] / "examples" / "user_counts.py"


async def nothing(event: Event, rows: Rows) -> None:
    return None


shipped = Registry()
shipped.add(View(name="shipped_view", handler=nothing, database="pkg"))


@pytest.fixture
def installed_package(tmp_path: Path) -> Iterator[None]:
    """A distribution on ``sys.path`` whose ``chronik.views`` entry point is ``shipped``."""
    info = tmp_path / "viewpkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: viewpkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[chronik.views]\nshipped = {__name__}:shipped\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))


def test_views_of_an_installed_package_are_found_by_their_entry_point(
    installed_package: None,
) -> None:
    assert [v.name for v in installed()] == ["shipped_view"]


def test_views_named_by_module_or_file_join_them(installed_package: None) -> None:
    registry = installed([f"{__name__}:shipped", f"{EXAMPLE}:views"])
    assert [v.name for v in registry] == ["shipped_view", "user_counts"]
    counts = registry.get("user_counts")
    assert counts.database == "examples"
    assert counts.event_types == ("user.added", "user.removed")


class NoRows:
    """A view store with nothing stored yet (``Rows`` asks it only for rows)."""

    async def rows(self, view: str, tenant_id: str, keys: Sequence[str]) -> dict[str, str]:
        return {}


def user_event(type: str, owner: str) -> Event:
    return Event(
        sequence=1,
        locator=new_ulid(),
        tenant_id="t",
        aggregate_type="user",
        aggregate_id="u",
        aggregate_version=1,
        resource_owner=owner,
        type=type,
        revision=1,
        payload={},
        editor_user_id="",
        editor_service="",
        request_id=new_ulid(),
        created_at=datetime.now(UTC),
    )


async def test_the_documented_example_counts_users_per_organisation() -> None:
    view = installed([f"{EXAMPLE}:views"]).get("user_counts")
    rows = Rows(NoRows(), "user_counts", "t")  # type: ignore[arg-type]
    for type in ("user.added", "user.added", "user.removed"):
        await view.handler(user_event(type, "acme"), rows)
        rows.keep_event()
    assert rows.changes() == ({"org:acme": "1"}, set())
    with pytest.raises(Exception, match="has no resource owner") as caught:
        await view.handler(user_event("user.added", ""), rows)
    assert getattr(caught.value, "error_id", None) == "USER-COUNTS-ORG"


def test_registrations_that_cannot_work_are_refused() -> None:
    registry = Registry()
    registry.add(View(name="a", handler=nothing))
    with pytest.raises(InvalidArgument, match="already registered"):
        registry.add(View(name="a", handler=nothing))
    for bad in (
        {"name": ""},
        {"name": "x" * 201},
        {"name": "has space"},
        {"name": "ok", "database": "no/slash"},
        {"name": "ok", "max_failures": 0},
        {"name": "ok", "on_exhausted": "explode"},
        {"name": "ok", "batch": 0},
    ):
        with pytest.raises(InvalidArgument):
            View(handler=nothing, **bad)
    with pytest.raises(NotFound):
        registry.get("b")


def test_backoff_grows_to_its_longest() -> None:
    backoff = Backoff(first=1, factor=3, longest=20)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [1, 3, 9, 20]
