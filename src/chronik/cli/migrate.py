"""``chronik migrate``."""

from __future__ import annotations

from chronik.cli.context import DatabaseUrlOption, DataOption, run, say, settings_from
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings


def migrate(data: DataOption = DEFAULT_DATA_DIR, database_url: DatabaseUrlOption = "") -> None:
    """Apply the schema migrations this database lacks.

    Every other command does so on start too; this one lets a deployment do it first, on
    its own. A database written by a newer Chronik is refused (exit code 1).
    """
    settings = settings_from(data, database_url)
    run(lambda: _migrate(settings))


async def _migrate(settings: Settings) -> None:
    async with await Chronik.open(settings, migrate=False) as chronik:
        applied = await chronik.db.migrate()
        version = await chronik.db.schema_version()
    if applied:
        say(f"applied migrations {', '.join(map(str, applied))}: schema version {version}")
    else:
        say(f"the schema is current: version {version}")
