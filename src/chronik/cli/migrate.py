"""``chronik migrate``."""

from __future__ import annotations

from chronik.cli.context import (
    DatabaseUrlOption,
    DataOption,
    TenantDatabasesOption,
    run,
    say,
    settings_from,
)
from chronik.services import Chronik
from chronik.settings import DEFAULT_DATA_DIR, Settings


def migrate(
    data: DataOption = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOption = "",
    tenant_databases: TenantDatabasesOption = "",
) -> None:
    """Create the database, or apply the schema migrations it lacks.

    With serve and worker, the only command that creates a database (with its tenant
    'default'); the others refuse one that does not exist (exit code 2) and migrate an older
    schema on start. A database written by a newer Chronik is refused (exit code 1). With
    --tenant-databases, each of them is created or migrated too.
    """
    settings = settings_from(data, database_url, create=True, tenant_databases=tenant_databases)
    run(lambda: _migrate(settings))


async def _migrate(settings: Settings) -> None:
    async with await Chronik.open(settings, migrate=False) as chronik:
        applied = await chronik.db.migrate()
        version = await chronik.db.schema_version()
        await chronik.default_tenant()
    if applied:
        say(f"applied migrations {', '.join(map(str, applied))}: schema version {version}")
    else:
        say(f"the schema is current: version {version}")
