"""The embedded backend: one SQLite file in WAL mode.

The event loop's thread is the single writer: a commit without fsync takes tens of
microseconds, less than handing it to a thread would. Reads run on a small thread pool with
a connection each, and WAL checkpoints run off the loop.
"""

from chronik.storage.sqlite.database import SQLiteDatabase

__all__ = ["SQLiteDatabase"]
