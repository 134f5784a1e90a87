"""The ``eventsourcing`` library's application recorders, set up on the same database.

SQLite: ``SQLiteDatastore`` + ``SQLiteApplicationRecorder`` on the same file. Its pool puts
connections in WAL mode but leaves ``synchronous`` at SQLite's default (FULL); we set
``synchronous = NORMAL`` on each of its connections, as Chronik and the raw runs use, so the
comparison is of software, not of durability. PostgreSQL: ``PostgresDatastore`` +
``PostgresApplicationRecorder`` (``LOCK TABLE ... IN EXCLUSIVE MODE`` per insert, pipelined,
``RETURNING notification_id``), sync psycopg.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from bench.data import Batch, StoredEvents


class ESRecorder:
    def __init__(self, recorder: Any, datastore: Any) -> None:
        self.recorder = recorder
        self.datastore = datastore
        self.stored = StoredEvents()
        self._lock = threading.Lock()

    @classmethod
    def sqlite(cls, path: Path, pool_size: int = 5) -> ESRecorder:
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

        datastore = SQLiteDatastore(str(path), pool_size=pool_size, max_overflow=10)
        pool = datastore.pool
        create = pool._create_connection

        def create_normal() -> Any:
            conn = create()
            conn._sqlite_conn.execute("PRAGMA synchronous = NORMAL")
            return conn

        pool._create_connection = create_normal  # type: ignore[method-assign]
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        return cls(recorder, datastore)

    @classmethod
    def postgres(cls, url: str, pool_size: int = 1) -> ESRecorder:
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

        info = psycopg.conninfo.conninfo_to_dict(url)
        datastore = PostgresDatastore(
            dbname=str(info["dbname"]),
            host=str(info.get("host", "127.0.0.1")),
            port=str(info.get("port", 5432)),
            user=str(info.get("user", "postgres")),
            password=str(info.get("password", "")),
            pool_size=pool_size,
        )
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        return cls(recorder, datastore)

    def events(self, batch: Batch) -> list[Any]:
        with self._lock:
            return self.stored.events(batch)

    def batch(self, batch: Batch) -> int:
        """One ``insert_events`` call with every event of the batch."""
        self.recorder.insert_events(self.events(batch))
        return len(batch.specs)

    def single(self, batch: Batch) -> int:
        """One ``insert_events`` call per event."""
        stored = self.events(batch)
        for event in stored:
            self.recorder.insert_events([event])
        return len(stored)

    def concurrent(self, batches: list[Batch], threads: int, duration: float) -> tuple[int, float]:
        """``threads`` threads, each inserting one event per call for ``duration``."""
        import time

        stop = time.perf_counter() + duration
        counts = [0] * threads

        def work(i: int) -> None:
            j = i
            while time.perf_counter() < stop:
                counts[i] += self.single(batches[j % len(batches)])
                j += threads

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
        return sum(counts), time.perf_counter() - start

    def close(self) -> None:
        self.datastore.close()
