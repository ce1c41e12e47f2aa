"""Reading import files into rows: JSON (one object of lists) and CSV (one file per entity).

Each row keeps the file and line it came from, so every error can point at it: a JSON row at the
line of its `{`, a CSV row at its line with the header as line 1.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from bot.store.importer.fields import ENTITIES
from bot.store.importer.rows import ImportError_, Row


class _Lines:
    """Line numbers for increasing offsets into a text, counted incrementally."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.line


def _read_json(path: Path, errors: list[ImportError_]) -> list[Row]:
    """Parse `{"members": [...], ...}` keeping the line on which each row object starts."""
    name = path.name
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder(parse_float=Decimal)
    space = re.compile(r"\s*")
    lines = _Lines(text)
    rows: list[Row] = []

    def skip(i: int) -> int:
        match = space.match(text, i)  # `\s*` always matches
        return match.end() if match else i

    def expect(i: int, chars: str, what: str) -> None:
        if text[i : i + 1] not in chars:
            raise json.JSONDecodeError(f"expected {what}", text, i)

    try:
        i = skip(0)
        if text[i : i + 1] != "{":
            errors.append(
                ImportError_(
                    name, 1, "a JSON import is one object of lists: " + ", ".join(ENTITIES)
                )
            )
            return []
        i = skip(i + 1)
        if text[i : i + 1] == "}":
            return []
        while True:
            key_at = i
            key, i = decoder.raw_decode(text, i)
            i = skip(i)
            expect(i, ":", "':'")
            i = skip(i + 1)
            if key not in ENTITIES or text[i : i + 1] != "[":
                reason = (
                    f"unknown list {key!r}; the lists are {', '.join(ENTITIES)}"
                    if key not in ENTITIES
                    else f"{key!r} must be a list of objects"
                )
                errors.append(ImportError_(name, lines.at(key_at), reason))
                _, i = decoder.raw_decode(text, i)
            else:
                i = skip(i + 1)
                if text[i : i + 1] == "]":
                    i += 1
                while text[i - 1 : i] != "]":
                    start = i
                    item, i = decoder.raw_decode(text, i)
                    line = lines.at(start)
                    if isinstance(item, dict):
                        rows.append(Row(name, line, key, item))
                    else:
                        errors.append(ImportError_(name, line, f"each {key} row must be an object"))
                    i = skip(i)
                    expect(i, ",]", "',' or ']'")
                    i = skip(i + 1) if text[i] == "," else i + 1
            i = skip(i)
            expect(i, ",}", "',' or '}'")
            if text[i] == "}":
                break
            i = skip(i + 1)
    except json.JSONDecodeError as exc:
        errors.append(ImportError_(name, exc.lineno, f"not valid JSON: {exc.msg}"))
        return []
    return rows


def _read_csv(path: Path, errors: list[ImportError_]) -> list[Row]:
    """One entity per file, named by the file (members.csv, accounts.csv, ...)."""
    entity = path.stem.lower()
    if entity not in ENTITIES:
        errors.append(
            ImportError_(
                path.name,
                None,
                "a CSV file must be named after what it holds: "
                + ", ".join(f"{e}.csv" for e in ENTITIES),
            )
        )
        return []
    rows: list[Row] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            errors.append(ImportError_(path.name, 1, "the file is empty (it needs a header row)"))
            return []
        line = 1
        for record in reader:
            start, line = line + 1, reader.line_num
            if None in record:
                errors.append(ImportError_(path.name, start, "more cells than header columns"))
                continue
            rows.append(
                Row(
                    path.name,
                    start,
                    entity,
                    {k.strip(): v for k, v in record.items() if k is not None},
                )
            )
    return rows


def read_files(paths: Iterable[Path], errors: list[ImportError_]) -> list[Row]:
    """Every row of every file, by its extension; unreadable files become errors."""
    rows: list[Row] = []
    for path in paths:
        if not path.is_file():
            errors.append(ImportError_(str(path), None, "file not found"))
        elif path.suffix.lower() == ".json":
            rows += _read_json(path, errors)
        elif path.suffix.lower() == ".csv":
            rows += _read_csv(path, errors)
        else:
            errors.append(
                ImportError_(path.name, None, "only .json and .csv files can be imported")
            )
    return rows
