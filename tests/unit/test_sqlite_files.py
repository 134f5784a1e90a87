"""The embedded database's files are its owner's alone: they hold every tenant's events."""

from __future__ import annotations

import stat
from pathlib import Path

from chronik import Chronik, NewEvent, Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_data_directory_and_its_database_are_private(tmp_path: Path) -> None:
    data = tmp_path / "chronik-data"
    async with await Chronik.open(Settings(data_dir=data)) as chronik:
        tenant = await chronik.tenants.create("acme")
        await chronik.events.append(
            tenant.id, [NewEvent(aggregate_type="user", aggregate_id="1", type="user.added")]
        )
        files = [data / "chronik.db", data / "chronik.db-wal", data / "chronik.db-shm"]
        assert [_mode(f) for f in files] == [0o600, 0o600, 0o600]
    assert _mode(data) == 0o700


async def test_an_existing_database_keeps_the_mode_its_operator_chose(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    async with await Chronik.open(settings):
        pass
    (tmp_path / "chronik.db").chmod(0o640)
    async with await Chronik.open(settings) as chronik:
        await chronik.tenants.create("acme")
    assert _mode(tmp_path / "chronik.db") == 0o640
