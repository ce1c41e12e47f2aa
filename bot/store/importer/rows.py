"""The records an import passes between its steps: a row read from a file, a refused row, and
the outcome shown to the person running the import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.store.importer.fields import ENTITIES


@dataclass
class Row:
    """One row as read from a file; `values` is filled by validation (typed, only fields given)."""

    file: str
    line: int
    entity: str
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportError_:  # noqa: N801 - trailing underscore: not the builtin ImportError
    """A bad row (or file): where it is and why it was refused."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    """Outcome of `import_files`: `ok` only if every row was valid and everything was written."""

    ok: bool
    errors: list[ImportError_] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows imported per entity
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def summary(self, max_errors: int = 200) -> str:
        if self.ok:
            parts = [
                f"{name} {self.counts[name]:,} ({self.created.get(name, 0):,} new, "
                f"{self.updated.get(name, 0):,} updated)"
                for name in ENTITIES
                if self.counts.get(name)
            ]
            total = sum(self.counts.values())
            return (
                f"Imported {total:,} rows from {len(self.files)} file(s): "
                f"{'; '.join(parts) or 'nothing to import'}."
            )
        lines = [f"Import failed: nothing was written. {len(self.errors)} problem(s):"]
        lines += [f"  {e}" for e in self.errors[:max_errors]]
        if len(self.errors) > max_errors:
            lines.append(f"  ... and {len(self.errors) - max_errors} more")
        return "\n".join(lines)
