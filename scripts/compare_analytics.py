#!/usr/bin/env python3
"""The peers tsur's analytics must beat (ENGINEERING §6): the same dashboard aggregates computed
by DuckDB and by PostgreSQL on the same appeals, in one run.

    scripts/compare_analytics.py [REPLICA] [--now 2026-11-25]

REPLICA defaults to target/bench-data/demo-1000000.sqlite (made by
`cargo bench -p tsur-core --bench analytics`). Needs the PyPI packages duckdb and psycopg2-binary
and a PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth; TSUR_PG_DSN overrides). The six
aggregates (best of three each run): counts, on-time share, average answer time, satisfaction
and overdue by block; overdue by municipality; the organisations' ranking components; a 0.05°
grid of points; topic × municipality; the weekly trend. tsur's own figure (a full recompute of
every view, which is more than these six) comes from the Rust benchmark.
"""

import csv
import datetime as dt
import os
import sqlite3
import sys
import tempfile
import time

try:
    import duckdb
    import psycopg2
except ImportError as e:  # a clear message rather than a traceback
    sys.exit(f"нужны пакеты PyPI duckdb и psycopg2-binary: pip install duckdb psycopg2-binary ({e})")

COLUMNS = [
    ("id", "BIGINT"),
    ("received_utc", "BIGINT"),
    ("registered_utc", "BIGINT"),
    ("due_utc", "BIGINT"),
    ("answered_utc", "BIGINT"),
    ("status", "TEXT"),
    ("regime", "TEXT"),
    ("block_code", "TEXT"),
    ("topic_code", "TEXT"),
    ("municipality_code", "TEXT"),
    ("organisation_code", "TEXT"),
    ("rating", "INTEGER"),
    ("is_repeat", "INTEGER"),
    ("lat", "DOUBLE PRECISION"),
    ("lon", "DOUBLE PRECISION"),
]
# Open with the clock running (PRODUCT §4): not answered/closed/merged/rejected, not waiting.
RUNNING = "('new','triage','routed','in_progress','answer_prepared','extended','forwarded','escalated','reopened')"


def queries(now: int) -> list[tuple[str, str]]:
    on_time = "CASE WHEN answered_utc IS NOT NULL AND due_utc IS NOT NULL THEN (answered_utc < due_utc)::int " \
              f"WHEN answered_utc IS NULL AND due_utc <= {now} AND status IN {RUNNING} THEN 0 END"
    overdue = f"(status IN {RUNNING} AND due_utc <= {now})::int"
    return [
        ("by block", f"""SELECT block_code, count(*), avg({on_time}),
                avg(CASE WHEN answered_utc IS NOT NULL THEN (answered_utc - registered_utc) / 3600.0 END),
                avg(CASE WHEN rating > 0 THEN (rating >= 4)::int END), sum({overdue})
            FROM appeals GROUP BY block_code"""),
        ("overdue by municipality", f"SELECT municipality_code, sum({overdue}) FROM appeals GROUP BY municipality_code"),
        ("ranking", f"""SELECT organisation_code, count(*) AS n, avg({on_time}) AS t,
                avg(CASE WHEN rating > 0 THEN (rating >= 4)::int END) AS s, avg(is_repeat) AS r
            FROM appeals WHERE organisation_code IS NOT NULL GROUP BY organisation_code
            HAVING count(*) >= 30 ORDER BY 0.4 * coalesce(avg({on_time}), 0) + 0.25 * coalesce(avg(CASE WHEN rating > 0 THEN (rating >= 4)::int END), 0) + 0.15 * (1 - avg(is_repeat)) DESC"""),
        ("heat grid 0.05°", """SELECT floor(lat / 0.05), floor(lon / 0.05), count(*) FROM appeals
            WHERE lat IS NOT NULL GROUP BY 1, 2"""),
        ("topic × municipality", "SELECT topic_code, municipality_code, count(*) FROM appeals GROUP BY 1, 2"),
        ("weekly trend", "SELECT floor(received_utc / 604800), count(*) FROM appeals GROUP BY 1"),
    ]


def best_of_three(run) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    replica = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "target", "bench-data", "demo-1000000.sqlite")
    now_date = "2026-11-25"
    if "--now" in sys.argv:
        now_date = sys.argv[sys.argv.index("--now") + 1]
    # Noon local time (UTC+5), as tsur's --now DATE.
    now = int(dt.datetime.fromisoformat(now_date + "T12:00:00+05:00").timestamp())
    if not os.path.exists(replica):
        sys.exit(f"реплика {replica} не найдена: сначала cargo bench -p tsur-core --bench analytics")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "appeals.csv")
        started = time.perf_counter()
        src = sqlite3.connect(replica)
        rows = src.execute("""SELECT id, received_utc, coalesce(registered_utc, received_utc), due_utc,
                answered_utc, status, regime, block_code, topic_code, municipality_code,
                organisation_code, coalesce(rating, 0), repeat_of IS NOT NULL, lat, lon FROM appeals""")
        count = 0
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            for row in rows:
                out.writerow(["" if v is None else v for v in row])
                count += 1
        print(f"{count} appeals exported from {replica} in {time.perf_counter() - started:.1f} s")

        ddl = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
        results = {}

        duck = duckdb.connect()
        duck.execute(f"CREATE TABLE appeals ({ddl.replace('DOUBLE PRECISION', 'DOUBLE')})")
        duck.execute(f"COPY appeals FROM '{path}' (HEADER false, NULLSTR '')")
        results["DuckDB"] = [(name, best_of_three(lambda q=q: duck.execute(q).fetchall())) for name, q in queries(now)]

        dsn = os.environ.get("TSUR_PG_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres")
        pg = psycopg2.connect(dsn)
        pg.autocommit = True
        cur = pg.cursor()
        cur.execute("DROP SCHEMA IF EXISTS tsur_compare CASCADE; CREATE SCHEMA tsur_compare; SET search_path = tsur_compare")
        cur.execute(f"CREATE TABLE appeals ({ddl})")
        with open(path) as f:
            cur.copy_expert("COPY appeals FROM STDIN WITH (FORMAT csv, NULL '')", f)
        cur.execute("ANALYZE appeals")

        def pg_run(q):
            cur.execute(q)
            cur.fetchall()

        results["PostgreSQL"] = [(name, best_of_three(lambda q=q: pg_run(q))) for name, q in queries(now)]
        cur.execute("DROP SCHEMA tsur_compare CASCADE")

    for engine, timings in results.items():
        total = sum(t for _, t in timings)
        detail = ", ".join(f"{name} {t * 1e3:.0f} ms" for name, t in timings)
        print(f"{engine:<11} six aggregates: {total * 1e3:.0f} ms ({detail})")


if __name__ == "__main__":
    main()
