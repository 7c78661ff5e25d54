"""The benchmark's settle step (bench/data.py: vacuum_analyze), on a database of its own."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from bench.data import vacuum_analyze
from tests import services as test_services


def test_tables_never_written_keep_no_statistics(services: test_services.TestServices) -> None:
    """An ANALYZE of an empty table records it as empty (reltuples 0), and statements prepared
    against it then keep a plan that scans it whole; left alone, it stays unanalyzed (-1)."""
    url = services.create_database("taskhub_vacuum")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE written (id int PRIMARY KEY)")
        conn.execute("INSERT INTO written SELECT generate_series(1, 100)")
        conn.execute('CREATE TABLE "Never Written" (id int PRIMARY KEY)')

    assert vacuum_analyze(dsn) > 0

    with psycopg.connect(dsn) as conn:
        reltuples = dict(
            conn.execute(
                "SELECT relname, reltuples FROM pg_class"
                " WHERE relname IN ('written', 'Never Written')"
            ).fetchall()
        )
    assert reltuples == {"written": 100, "Never Written": -1}
