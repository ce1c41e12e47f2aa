"""`jecbot backup` and `jecbot restore`: a backup taken while the assistant writes comes back."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.ops.backup import BackupError, backup, restore

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def _db(path: Path, rows: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("create table alembic_version (version_num text)")
    conn.execute("insert into alembic_version values ('0004')")
    conn.execute("create table messages (id integer primary key, text text)")
    conn.executemany("insert into messages (text) values (?)", [(f"m{i}",) for i in range(rows)])
    conn.commit()
    conn.close()


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("select count(*) from messages").fetchone()[0]
    finally:
        conn.close()


def test_backup_while_writing_then_restore_round_trips(tmp_path: Path) -> None:
    main_db, tracker = tmp_path / "jec.db", tmp_path / "rasa-tracker.db"
    _db(main_db, 1000)
    _db(tracker, 10)
    url, tracker_url = f"sqlite:///{main_db}", f"sqlite:///{tracker}"
    stop = threading.Event()

    def writer() -> None:  # the assistant keeps writing during the backup
        conn = sqlite3.connect(main_db, timeout=30)
        while not stop.is_set():
            conn.execute("insert into messages (text) values ('during')")
            conn.commit()
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = backup(url, tracker_url, tmp_path / "backup", NOW)
    finally:
        stop.set()
        thread.join()
    assert set(report.files) == {"jec.db", "rasa-tracker.db"}
    backed_up = _count(tmp_path / "backup" / "jec.db")
    assert backed_up >= 1000
    assert (tmp_path / "backup" / "manifest.json").exists()

    conn = sqlite3.connect(main_db)
    conn.execute("delete from messages")  # the bad night
    conn.commit()
    conn.close()
    with pytest.raises(BackupError, match="--force"):
        restore(url, tracker_url, tmp_path / "backup", NOW)
    restore(url, tracker_url, tmp_path / "backup", NOW, force=True)
    assert _count(main_db) == backed_up
    assert _count(tracker) == 10
    kept = tmp_path / "jec.db.before-restore-20261202T030000"
    assert kept.exists() and _count(kept) == 0


def test_backup_refuses_a_non_empty_directory_and_postgres(tmp_path: Path) -> None:
    _db(tmp_path / "jec.db", 1)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup(f"sqlite:///{tmp_path / 'jec.db'}", "", tmp_path / "full", NOW)
    with pytest.raises(BackupError, match="pg_dump"):
        backup("postgresql://jec@db/jec", "", tmp_path / "new", NOW)


def test_restore_refuses_a_damaged_backup(tmp_path: Path) -> None:
    _db(tmp_path / "jec.db", 3)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "jec.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="not a SQLite database"):
        restore(f"sqlite:///{tmp_path / 'jec.db'}", "", tmp_path / "bad", NOW, force=True)
    assert _count(tmp_path / "jec.db") == 3  # untouched


def test_jecbot_backup_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _db(tmp_path / "jec.db", 5)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'jec.db'}")
    monkeypatch.setenv("RASA_TRACKER_URL", f"sqlite:///{tmp_path / 'none.db'}")
    assert main(["backup", str(tmp_path / "b")]) == 0
    assert "Backed up to" in capsys.readouterr().out
    assert _count(tmp_path / "b" / "jec.db") == 5
    assert main(["restore", str(tmp_path / "b")]) == 1  # without --force
