"""The PostgreSQL backend: psycopg 3 with a connection pool, for one or many nodes.

Appenders serialise on a transaction-scoped advisory lock from reading the head to their
commit, so sequences become visible in commit order; concurrent appends are coalesced into
shared transactions, which is where the throughput comes from (see docs/explanation).
"""

from chronik.storage.postgres.database import PostgresDatabase

__all__ = ["PostgresDatabase"]
