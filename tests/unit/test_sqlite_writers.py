"""Two processes writing one SQLite file: each writer remembers the versions of the aggregates
it appended to, and must forget them when the other one writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronik import Chronik, NewEvent, Settings
from chronik.errors import Conflict
from chronik.records import ExpectedVersion


def _event(n: int) -> NewEvent:
    return NewEvent(
        aggregate_type="order", aggregate_id="o-1", type="order.changed", payload={"n": n}
    )


async def test_versions_stay_dense_when_two_writers_append_to_one_aggregate(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'chronik.db'}")
    async with await Chronik.open(settings) as first, await Chronik.open(settings) as second:
        tenant = (await first.tenants.create("acme")).id
        versions = []
        for n in range(6):
            writer = (first, second)[n % 3 == 2]  # first, first, second, first, first, second
            [stored] = await writer.events.append(tenant, [_event(n)])
            versions.append(stored.aggregate_version)
        assert versions == [1, 2, 3, 4, 5, 6]

        # The first writer last wrote version 5; the second has written 6 since.
        with pytest.raises(Conflict, match="6"):
            await first.events.append(
                tenant, [_event(6)], expected=[ExpectedVersion("order", "o-1", 5)]
            )
        [stored] = await first.events.append(
            tenant, [_event(6)], expected=[ExpectedVersion("order", "o-1", 6)]
        )
        assert stored.aggregate_version == 7
