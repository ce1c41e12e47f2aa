"""Rasa replicas started together on a fresh PostgreSQL tracker database all come up.

`jecbot run` with RASA_REPLICAS=2 starts both Rasa processes at once (they load their models
together). Each opens `WindowedSQLTrackerStore`, which creates its snapshot table and the
events index. Two `CREATE TABLE` of the same name at the same moment make one of them fail in
PostgreSQL's catalogue (a unique violation), and that Rasa stops while starting. The attack:
six replicas open the store on a fresh database at the same instant; every one must come up.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from sqlalchemy import text

from bot.config import PROJECT_ROOT
from bot.store.db import make_sync_engine
from tests.rasa_tracker.rasa_env import script_command, script_env

pytestmark = [pytest.mark.rasa, pytest.mark.postgres]

REPLICAS = 6


def test_six_rasa_replicas_opening_a_fresh_tracker_database_at_once_all_come_up(
    empty_postgres_url: str,
) -> None:
    def replica(start_at: float, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            script_command(
                "start_together.py",
                str(PROJECT_ROOT / "domain"),
                empty_postgres_url,
                str(start_at),
                *extra,
            ),
            cwd=PROJECT_ROOT,
            env=script_env(),
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
    engine = make_sync_engine(empty_postgres_url)
    with engine.connect() as conn:
        tables = {row[0] for row in conn.execute(text("select tablename from pg_tables"))}
    engine.dispose()
    assert {"events", "jec_tracker_snapshots"} <= tables
