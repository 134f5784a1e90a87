"""Storage backends behind small, domain-shaped ports (see :mod:`chronik.storage.ports`).

Each backend keeps its schema, migrations and every query in its own folder; nothing outside
this package holds SQL. :func:`open_database` picks the backend from the database URL.
"""

from chronik.storage.open import open_database
from chronik.storage.ports import Database, EventStore, TenantStore

__all__ = ["Database", "EventStore", "TenantStore", "open_database"]
