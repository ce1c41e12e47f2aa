"""Natural keys: rows refer to each other by member_number, account_number and payment token,
never by database ids, and an existing row with the same key is updated rather than duplicated.

`resolve_keys` runs inside the import's transaction, after every row has passed validation: it
checks that each reference is in the import or the database and that no key appears twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select

from bot.store.importer.fields import ENTITIES, SPECS
from bot.store.importer.rows import ImportError_, Row
from bot.store.models import Account, Member, Payment, PaymentMethod


def natural_key(entity: str, v: dict[str, Any]) -> tuple[Any, ...]:
    """The key that identifies a row of `entity` (validated values `v`) across imports."""
    if entity == "members":
        return (v["member_number"],)
    if entity == "accounts":
        return (v["account_number"],)
    if entity == "contacts":
        return (v["member_number"], v["kind"], v["value"])
    if entity == "payment_methods":
        return (v["token"],)
    if entity == "bills":
        return (v["account_number"], v["billing_date"])
    if entity == "payments":
        return (payment_key(v),)
    if entity == "usage":
        return (v["account_number"], v["day"])
    if entity == "draft_results":
        return (v["id"],)
    return (v["reference"],)


def payment_key(v: dict[str, Any]) -> str:
    """The idempotency key of an imported payment (derived from the confirmation if absent)."""
    return v.get("idempotency_key") or f"import:{v['account_number']}:{v['confirmation_number']}"


def key_map(conn: Connection, table: Table, *columns: str) -> dict[Any, int]:
    """(column values...) -> id for every stored row of `table`."""
    cols = [table.c[c] for c in columns]
    result: dict[Any, int] = {}
    for row in conn.execute(select(table.c.id, *cols)):
        result[tuple(row[1:])] = row[0]
    return result


def single(mapping: dict[Any, int]) -> dict[Any, int]:
    """A `key_map` over one column, keyed by the value rather than a 1-tuple."""
    return {k[0]: v for k, v in mapping.items()}


def resolve_keys(
    rows_by: dict[str, list[Row]], conn: Connection, errors: list[ImportError_]
) -> None:
    """Check references (member_number, account_number, token) and duplicate keys."""
    members = set(single(key_map(conn, Member.__table__, "member_number")))
    accounts = set(single(key_map(conn, Account.__table__, "account_number")))
    tokens = set(single(key_map(conn, PaymentMethod.__table__, "token")))
    members |= {r.values["member_number"] for r in rows_by["members"]}
    accounts |= {r.values["account_number"] for r in rows_by["accounts"]}
    tokens |= {r.values["token"] for r in rows_by["payment_methods"]}
    payments = Payment.__table__
    known_confirmations = {
        row[0]: row[1]
        for row in conn.execute(
            select(payments.c.confirmation_number, payments.c.idempotency_key).where(
                payments.c.confirmation_number.is_not(None)
            )
        )
    }
    for entity in ENTITIES:
        seen: dict[tuple[Any, ...], Row] = {}
        for row in rows_by[entity]:
            v = row.values
            problems = []
            if "member_number" in SPECS[entity] and v["member_number"] not in members:
                problems.append(
                    f"member_number {v['member_number']!r} is not in this import or the database"
                )
            if (
                entity != "accounts"
                and "account_number" in v
                and v["account_number"] not in accounts
            ):
                problems.append(
                    f"account_number {v['account_number']!r} is not in this import or the database"
                )
            if v.get("payment_method_token") and v["payment_method_token"] not in tokens:
                problems.append(f"payment_method_token {v['payment_method_token']!r} is unknown")
            if entity == "draft_results" and v["status"] == "returned" and not v.get("return_code"):
                problems.append("a returned draft needs its NACHA return_code (R01, R02, ...)")
            if entity == "payments" and v.get("confirmation_number"):
                other = known_confirmations.get(v["confirmation_number"])
                if other is not None and other != payment_key(v):
                    problems.append(
                        f"confirmation_number {v['confirmation_number']!r} already "
                        "belongs to another payment"
                    )
            key = natural_key(entity, v)
            if key in seen:
                first = seen[key]
                problems.append(f"duplicate of {first.file} line {first.line} (same {entity} key)")
            else:
                seen[key] = row
            errors.extend(ImportError_(row.file, row.line, p) for p in problems)
