"""What ordering per tenant could buy on PostgreSQL, measured below Chronik with pgbench.

    python -m bench.tenant_lock [--seconds 5] [--rounds 3] [--postgres-url URL]

Two append functions over the same events table shape (a dense sequence, each aggregate's
version, jsonb payloads, the indexes the lookups need), one event per transaction:

- ``global``: one advisory lock and one head for the whole table, as Chronik appends today;
- ``tenant``: the lock and the head read keyed by tenant, ``(tenant, sequence)`` unique, as
  issue 17 plans;
- ``counter``: no advisory lock: a counter row per tenant taken by ``UPDATE … RETURNING``
  (its row lock, held to commit, orders the tenant's appends), what engines without
  advisory locks (CockroachDB) would use.

Each is run by pgbench with 32 clients spread over 16 tenants, with 32 clients on one tenant,
and with one client, in interleaved rounds on a table emptied before each run; the figures are
the median transactions per second. The target of issue 17 is that the per-tenant function
carries >= 2x the global one on 16 tenants: the raw limit that Chronik's own per-tenant
appends are then judged against (``bench.log``'s multi-tenant workload).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench import common
from bench.common import Result, check, log, median
from bench.log import DEFAULT_ADMIN_URL, create_pg_database, drop_pg_database, postgres_version

SCHEMA = """
CREATE TABLE events_global (
    sequence bigint PRIMARY KEY, tenant_key integer NOT NULL, aggregate_type text NOT NULL,
    aggregate_id text NOT NULL, aggregate_version integer NOT NULL, payload jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX ON events_global (tenant_key, aggregate_type, aggregate_id, aggregate_version);
CREATE INDEX ON events_global (tenant_key, sequence);
CREATE TABLE events_tenant (
    tenant_key integer NOT NULL, sequence bigint NOT NULL, aggregate_type text NOT NULL,
    aggregate_id text NOT NULL, aggregate_version integer NOT NULL, payload jsonb NOT NULL,
    created_at timestamptz NOT NULL, PRIMARY KEY (tenant_key, sequence)
);
CREATE UNIQUE INDEX ON events_tenant (tenant_key, aggregate_type, aggregate_id, aggregate_version);
CREATE FUNCTION append_global(p_tenant integer, p_aggregate text) RETURNS bigint
LANGUAGE plpgsql SET enable_sort = off AS $$
DECLARE v_sequence bigint; v_version integer;
BEGIN
    PERFORM pg_advisory_xact_lock(7283915641);
    SELECT coalesce(max(sequence), 0) + 1 INTO v_sequence FROM events_global;
    SELECT coalesce(max(aggregate_version), 0) + 1 INTO v_version FROM events_global
     WHERE tenant_key = p_tenant AND aggregate_type = 'order' AND aggregate_id = p_aggregate;
    INSERT INTO events_global VALUES (v_sequence, p_tenant, 'order', p_aggregate, v_version,
                                      '{"total": 1}', clock_timestamp());
    RETURN v_sequence;
END;
$$;
CREATE FUNCTION append_tenant(p_tenant integer, p_aggregate text) RETURNS bigint
LANGUAGE plpgsql SET enable_sort = off AS $$
DECLARE v_sequence bigint; v_version integer;
BEGIN
    PERFORM pg_advisory_xact_lock(728391, p_tenant);
    SELECT coalesce(max(sequence), 0) + 1 INTO v_sequence FROM events_tenant
     WHERE tenant_key = p_tenant;
    SELECT coalesce(max(aggregate_version), 0) + 1 INTO v_version FROM events_tenant
     WHERE tenant_key = p_tenant AND aggregate_type = 'order' AND aggregate_id = p_aggregate;
    INSERT INTO events_tenant VALUES (p_tenant, v_sequence, 'order', p_aggregate, v_version,
                                      '{"total": 1}', clock_timestamp());
    RETURN v_sequence;
END;
$$;
CREATE TABLE tenant_heads (tenant_key integer PRIMARY KEY, sequence bigint NOT NULL);
INSERT INTO tenant_heads SELECT t, 0 FROM generate_series(1, 16) t;
CREATE FUNCTION append_counter(p_tenant integer, p_aggregate text) RETURNS bigint
LANGUAGE plpgsql SET enable_sort = off AS $$
DECLARE v_sequence bigint; v_version integer;
BEGIN
    UPDATE tenant_heads SET sequence = sequence + 1 WHERE tenant_key = p_tenant
    RETURNING sequence INTO v_sequence;
    SELECT coalesce(max(aggregate_version), 0) + 1 INTO v_version FROM events_tenant
     WHERE tenant_key = p_tenant AND aggregate_type = 'order' AND aggregate_id = p_aggregate;
    INSERT INTO events_tenant VALUES (p_tenant, v_sequence, 'order', p_aggregate, v_version,
                                      '{"total": 1}', clock_timestamp());
    RETURN v_sequence;
END;
$$;
"""

# (name, function, clients, tenants)
RUNS = [
    ("global lock, 32 clients over 16 tenants", "global", 32, 16),
    ("tenant lock, 32 clients over 16 tenants", "tenant", 32, 16),
    ("tenant lock, 32 clients on 1 tenant", "tenant", 32, 1),
    ("counter row per tenant, 32 clients over 16 tenants", "counter", 32, 16),
    ("global lock, 1 client", "global", 1, 1),
    ("tenant lock, 1 client", "tenant", 1, 1),
]


def pgbench(url: str, function: str, clients: int, tenants: int, seconds: float) -> float:
    """The transactions per second of one pgbench run (prepared statements, 2 threads)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(
            f"\\set t random(1, {tenants})\n\\set a random(1, 100000)\n"
            f"SELECT append_{function}(:t, :a::text);\n"
        )
    try:
        out = subprocess.run(
            [
                "pgbench",
                "-n",
                "-M",
                "prepared",
                "-c",
                str(clients),
                "-j",
                str(min(clients, 2)),
                "-T",
                str(int(seconds)),
                "-f",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    found = re.search(r"tps = ([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps:\n{out}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tenant_lock",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args(argv)
    started = time.time()
    url, _ = create_pg_database(args.postgres_url, "chronik_bench_lock")
    meter = common.ForeignLoad()
    tps: dict[str, list[float]] = {name: [] for name, *_ in RUNS}
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA.encode())
            for round_ in range(args.rounds):
                for name, function, clients, tenants in RUNS:
                    conn.execute("TRUNCATE events_global, events_tenant")
                    conn.execute("UPDATE tenant_heads SET sequence = 0")
                    conn.execute("CHECKPOINT")
                    tps[name].append(pgbench(url, function, clients, tenants, args.seconds))
                    log(f"round {round_ + 1}: {name}: {tps[name][-1]:,.0f} tps")
    finally:
        drop_pg_database(args.postgres_url, "chronik_bench_lock")
    rates = {name: median(values) for name, values in tps.items()}
    results = []
    for name, *_ in RUNS:
        results.append(
            Result(
                backend="postgres",
                workload=name,
                unit="tps",
                raw=None,
                chronik=rates[name],
                eventsourcing=None,
                ratio=None,
                target="report",
                status="INFO",
                details={"tps": [round(x) for x in tps[name]]},
            )
        )
    base = rates["global lock, 32 clients over 16 tenants"]
    ratio = rates["tenant lock, 32 clients over 16 tenants"] / base
    results.append(
        Result(
            backend="postgres",
            workload="tenant lock / global lock, 16 tenants",
            unit="x",
            raw=base,
            chronik=rates["tenant lock, 32 clients over 16 tenants"],
            eventsourcing=None,
            ratio=ratio,
            target=">= 2.00",
            status=check(ratio, ">=", 2.0),
            note="the raw limit per-tenant ordering could reach",
        )
    )
    meta = {
        "command": "python -m bench.tenant_lock "
        + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": common.machine(postgres_version(args.postgres_url)),
        "rates": "median of interleaved rounds",
        "other_programs": {"postgres": meter.report()},
    }
    common.finish(results, meta)


if __name__ == "__main__":
    main()
