"""Opens the backend a database URL names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chronik.errors import InvalidArgument
from chronik.settings import Settings
from chronik.storage.ports import Database

if TYPE_CHECKING:
    from chronik.storage.placement import PlacedDatabase


async def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Connect to the database of ``settings`` and, unless told otherwise, migrate it.

    Unless ``settings.create_database``, a database that does not exist or holds no
    Chronik schema is refused with :class:`DatabaseUnavailable` (an older schema is still
    migrated). A database written by a newer Chronik is refused with
    :class:`FailedPrecondition`.
    """
    url = settings.resolved_database_url
    db: Database
    if settings.tenant_databases:
        placed = _placed(settings)
        db = placed
        opening = placed.open
    elif url.startswith("sqlite:///"):
        from chronik.storage.sqlite.database import SQLiteDatabase, path_from_url

        lite = SQLiteDatabase(
            path_from_url(url),
            durability=settings.sqlite_durability,
            poll_seconds=settings.follow_poll_seconds,
            create=settings.create_database,
        )
        db = lite
        opening = lite.open
    elif url.startswith(("postgresql://", "postgres://")):
        from chronik.storage.postgres.database import PostgresDatabase

        pg = PostgresDatabase(
            url,
            pool_size=settings.postgres_pool_size,
            poll_seconds=settings.follow_poll_seconds,
            create=settings.create_database,
        )
        db = pg
        opening = pg.open
    else:
        raise InvalidArgument(
            f"unsupported database URL {url.split(':', 1)[0]!r}: "
            "use sqlite:///path/to/file.db or postgresql://user@host/db"
        )
    try:
        await opening()
        if migrate:
            await db.migrate()
        else:
            await _check_current(db)
    except BaseException:
        await db.close()
        raise
    return db


def _placed(settings: Settings) -> PlacedDatabase:
    from chronik.storage.placement import PlacedDatabase
    from chronik.storage.postgres.database import PostgresDatabase

    urls = [settings.resolved_database_url, *settings.tenant_databases]
    wrong = [u for u in urls if not u.startswith(("postgresql://", "postgres://"))]
    if wrong:
        raise InvalidArgument(
            "tenants are placed across PostgreSQL databases only: --database-url (the "
            "directory) and every --tenant-databases URL must be postgresql://… URLs"
        )

    def pg(url: str) -> PostgresDatabase:
        return PostgresDatabase(
            url,
            pool_size=settings.postgres_pool_size,
            poll_seconds=settings.follow_poll_seconds,
            create=settings.create_database,
        )

    directory = pg(urls[0])
    others = {u: directory if u == urls[0] else pg(u) for u in urls[1:]}
    return PlacedDatabase(
        directory,
        list(others.values()),
        wait_seconds=settings.tenant_move_wait_seconds,
        cache_seconds=settings.placement_cache_seconds,
    )


async def _check_current(db: Database) -> None:
    from chronik.errors import FailedPrecondition

    version = await db.schema_version()
    latest = _latest(db)
    if version > latest:
        raise FailedPrecondition(
            f"the database has schema version {version}, newer than this Chronik knows "
            f"({latest}); upgrade Chronik to use it"
        )


def _latest(db: Database) -> int:
    from chronik.storage import queries
    from chronik.storage.placement import PlacedDatabase

    if isinstance(db, PlacedDatabase):
        db = db.home_db
    package = type(db).__module__.rsplit(".", 1)[0]
    return queries.migrations(package)[-1][0]
