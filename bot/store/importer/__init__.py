"""Import a co-op's billing-system export (JSON or CSV) into the member-services tables.

The format is documented field by field in docs/import-format.md. The rules that matter:

- Every row of every file is validated first and *every* problem is reported with its file, line
  and reason, not just the first one.
- All or nothing: if any row is bad nothing is written; a good import is one transaction.
- Rows refer to each other by natural keys (member_number, account_number, payment token), never
  by database ids; an existing row with the same key is updated (upsert), nothing is deleted.
- Payment methods carry the processor's token and the last four digits only. A row with a full
  card number, CVV or bank account number is rejected, never stored.
- Money is written as a string ("142.87") and becomes integer cents with no float in between.

The steps, one module each: `fields` (what each entity may carry and how a value is parsed),
`readers` (files to rows), `validate` (each row on its own), `keys` (references and duplicates,
against the database) and `write` (the upserts). `jecbot import FILE...` calls `import_files`; a
live billing-system adapter implementing `bot.services.members.MemberServices` is the alternative
to periodic imports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.store.db import make_sync_engine
from bot.store.importer.fields import ENTITIES, SPECS, RowError
from bot.store.importer.keys import resolve_keys
from bot.store.importer.readers import read_files
from bot.store.importer.rows import ImportError_, ImportResult, Row
from bot.store.importer.validate import FORBIDDEN_FIELDS, validate_row
from bot.store.importer.write import write_rows
from bot.store.migrate import ensure_schema

__all__ = [
    "ENTITIES",
    "FORBIDDEN_FIELDS",
    "SPECS",
    "ImportError_",
    "ImportResult",
    "RowError",
    "import_files",
]


def import_files(
    database_url: str, paths: list[Path], *, now: datetime | None = None
) -> ImportResult:
    """Validate every row of `paths`, then write all of them in one transaction, or nothing.

    Returns an `ImportResult`; when `ok` is False nothing was written and `errors` lists every
    bad row (file, line, reason). Creates the schema first if the database has none.
    """
    now = now or datetime.now(UTC)
    result = ImportResult(ok=False, files=[str(p) for p in paths])
    errors = result.errors
    rows = read_files(paths, errors)
    for row in rows:
        errors.extend(ImportError_(row.file, row.line, p) for p in validate_row(row))
    if errors:
        return result

    rows_by: dict[str, list[Row]] = {e: [] for e in ENTITIES}
    for row in rows:
        rows_by[row.entity].append(row)
    ensure_schema(database_url)
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            with conn.begin() as transaction:
                resolve_keys(rows_by, conn, errors)
                if errors:
                    transaction.rollback()
                    return result
                try:
                    write_rows(conn, rows_by, now, result)
                except SQLAlchemyError as exc:
                    transaction.rollback()
                    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
                    errors.append(
                        ImportError_(
                            "(database)", None, f"the database refused the import: {reason}"
                        )
                    )
                    result.counts, result.created, result.updated = {}, {}, {}
                    return result
    finally:
        engine.dispose()
    result.ok = True
    return result
