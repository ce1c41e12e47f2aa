"""Rasa replicas started together on a fresh PostgreSQL tracker database all come up.

`jecbot run` with RASA_REPLICAS=2 starts both Rasa processes at once (they load their models
together). Each opens `WindowedSQLTrackerStore`, which creates its snapshot table and the
events index. Two `CREATE TABLE` of the same name at the same moment make one of them fail in
PostgreSQL's catalogue (a unique violation), and that Rasa exited with code 1 while starting:
CI saw it as "rasa exited with code 1 while starting" in tests/production. The attack here:
six replicas open the store on a fresh database at the same instant; every one must come up.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.config import PROJECT_ROOT
from bot.runner import RASA_BIN, RASA_PYTHON

pytestmark = [pytest.mark.rasa]

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REPLICAS = 6


@pytest.fixture
def fresh_tracker_db() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skipped, loudly, without a server."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"jec_tracker_race_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable" here
        admin.dispose()
        pytest.skip(f"POSTGRESQL NOT REACHABLE at {PG_ADMIN_URL}: race NOT tested ({exc})")
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_six_rasa_replicas_opening_a_fresh_tracker_database_at_once_all_come_up(
    fresh_tracker_db: str,
) -> None:
    if not RASA_BIN.exists():
        pytest.fail(f"Rasa is not installed at {RASA_BIN}; run `make setup`")
    url = create_engine(PG_ADMIN_URL).url

    def replica(start_at: float, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                str(RASA_PYTHON),
                "-W",
                "ignore",
                str(Path(__file__).with_name("start_together.py")),
                str(PROJECT_ROOT / "domain"),
                url.host or "127.0.0.1",
                str(url.port or 5432),
                fresh_tracker_db,
                url.username or "postgres",
                str(start_at),
                *extra,
            ],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(PROJECT_ROOT),
                "RASA_TELEMETRY_ENABLED": "false",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # Rasa's own events table first, as the first replica to get there makes it (Rasa retries
    # its own race): what is left to race is our snapshot table and index.
    first = replica(0.0, "rasa-only")
    assert first.wait(timeout=300) == 0, first.communicate()[1][-2000:]
    start_at = time.time() + 8.0  # time for six Python processes to import Rasa
    children = [replica(start_at) for _ in range(REPLICAS)]
    results = [child.communicate(timeout=300) for child in children]

    failed = [
        err[-2000:]
        for child, (_, err) in zip(children, results, strict=True)
        if child.returncode != 0
    ]
    assert failed == [], failed[0] if failed else ""
    assert all(out.strip().endswith("ok") for out, _ in results)
    engine = create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{fresh_tracker_db}")
    with engine.connect() as conn:
        tables = {row[0] for row in conn.execute(text("select tablename from pg_tables"))}
    engine.dispose()
    assert {"events", "jec_tracker_snapshots"} <= tables
