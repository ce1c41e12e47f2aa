"""`jecbot backup DIR` / `jecbot restore DIR` for the embedded SQLite default.

Copies go through SQLite's online backup API (`sqlite3.Connection.backup`), which reads a
consistent snapshot while the assistant keeps running and writing (WAL included); copying the
file itself could catch a half-written page. A backup directory holds `jec.db`, the Rasa tracker
`rasa-tracker.db` when it is SQLite too, and `manifest.json` (when, schema revision, sizes).
Restoring checks the copy's integrity first, keeps the current database beside it
(`jec.db.before-restore-<time>`), and should run with the assistant stopped. PostgreSQL uses
`pg_dump` / `pg_restore` instead (docs/operations.md).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

MAIN_FILE = "jec.db"
TRACKER_FILE = "rasa-tracker.db"
MANIFEST = "manifest.json"


class BackupError(Exception):
    """Why a backup or restore was refused; the message says what to do."""


@dataclass(frozen=True)
class BackupReport:
    directory: Path
    files: dict[str, int]  # file name -> bytes

    def summary(self) -> str:
        sizes = ", ".join(f"{name} ({size:,} bytes)" for name, size in self.files.items())
        return f"{self.directory}: {sizes}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.database in (None, "", ":memory:"):
        raise BackupError(f"{url} is an in-memory database: there is nothing to back up")
    return Path(parsed.database)


def _copy(source: Path, target: Path) -> None:
    """One consistent online copy of `source` into `target` (created or overwritten)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)  # all pages in one step: a snapshot even while others write
    finally:
        dst.close()
        src.close()


def _check(path: Path) -> str | None:
    """The schema revision of a sound database file; BackupError if it is damaged."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise BackupError(f"{path} failed SQLite's integrity check: {result}")
            tables = {r[0] for r in conn.execute("select name from sqlite_master")}
            if "alembic_version" not in tables:
                return None
            row = conn.execute("select version_num from alembic_version").fetchone()
            return row[0] if row else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database ({exc})") from None


def _targets(database_url: str, tracker_url: str) -> dict[str, Path]:
    main = sqlite_file(database_url)
    if main is None:
        raise BackupError(
            "DATABASE_URL is not SQLite: back up PostgreSQL with pg_dump (docs/operations.md)"
        )
    targets = {MAIN_FILE: main}
    tracker = sqlite_file(tracker_url) if tracker_url else None
    if tracker is not None:
        targets[TRACKER_FILE] = tracker
    return targets


def backup(database_url: str, tracker_url: str, directory: Path, now: datetime) -> BackupReport:
    """Copy the databases into `directory` (new or empty), with a manifest."""
    targets = _targets(database_url, tracker_url)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: give a new directory for each backup")
    if not targets[MAIN_FILE].exists():
        raise BackupError(f"{targets[MAIN_FILE]} does not exist: nothing to back up")
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, int] = {}
    revisions: dict[str, str | None] = {}
    for name, source in targets.items():
        if not source.exists():
            continue  # the tracker file appears with Rasa's first conversation
        _copy(source, directory / name)
        revisions[name] = _check(directory / name)
        files[name] = (directory / name).stat().st_size
    manifest = {"created_at": now.isoformat(), "files": files, "schema_revision": revisions}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return BackupReport(directory, files)


def restore(
    database_url: str, tracker_url: str, directory: Path, now: datetime, *, force: bool = False
) -> BackupReport:
    """Put a backup back: each file checked, the current one kept beside it, then replaced."""
    targets = _targets(database_url, tracker_url)
    if not (directory / MAIN_FILE).exists():
        raise BackupError(f"{directory} holds no {MAIN_FILE}: is it a `jecbot backup` directory?")
    if targets[MAIN_FILE].exists() and not force:
        raise BackupError(
            f"{targets[MAIN_FILE]} exists: stop the assistant and run again with --force to "
            "replace it (the current file is kept beside it)"
        )
    stamp = now.strftime("%Y%m%dT%H%M%S")
    files: dict[str, int] = {}
    for name, target in targets.items():
        source = directory / name
        if not source.exists():
            continue
        _check(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            _copy(target, target.with_name(f"{target.name}.before-restore-{stamp}"))
        staged = target.with_name(f"{target.name}.restoring")
        shutil.copyfile(source, staged)  # the backup is at rest: a plain copy is safe here
        for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            stale.unlink(missing_ok=True)
        staged.replace(target)
        files[name] = target.stat().st_size
    return BackupReport(directory, files)
