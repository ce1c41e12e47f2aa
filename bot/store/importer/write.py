"""Writing validated rows: upserts by natural key with executemany, ids assigned here.

Only the fields a row carries are written to an existing row; a new row gets the defaults below
for the rest. Nothing is deleted, except that an imported outage's areas are replaced. The caller
runs this inside the import's one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.store.draft_results import DraftResult, DraftResultError, apply_draft_result
from bot.store.importer.keys import key_map, payment_key, single
from bot.store.importer.rows import ImportResult, Row
from bot.store.migrate import sync_id_sequences
from bot.store.models import (
    Account,
    AuditEntry,
    Bill,
    Contact,
    Member,
    Outage,
    OutageArea,
    Payment,
    PaymentMethod,
    UsageReading,
)


class _Writer:
    """Upserts validated rows with executemany; ids for new rows are assigned here."""

    def __init__(self, conn: Connection, now: datetime, result: ImportResult) -> None:
        self.conn, self.now, self.result = conn, now, result

    def next_id(self, table: Table) -> int:
        return int(self.conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1

    def upsert(
        self,
        entity: str,
        table: Table,
        existing: dict[Any, int],
        rows: list[tuple[Any, dict[str, Any]]],
        defaults: dict[str, Any],
    ) -> dict[Any, int]:
        """Insert rows whose key is new (with defaults), update the given fields of the others."""
        inserts: list[dict[str, Any]] = []
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        ids = dict(existing)
        next_id = self.next_id(table)
        for key, values in rows:
            if key in ids:
                values = dict(values, _id=ids[key])
                updates.setdefault(tuple(sorted(values)), []).append(values)
            else:
                ids[key] = next_id
                row = dict(defaults)
                if "created_at" in table.c:
                    row["created_at"] = self.now
                row.update(values, id=next_id)
                inserts.append(row)
                next_id += 1
        for keys, batch in updates.items():
            fields: dict[str, Any] = {k: bindparam(k) for k in keys if k != "_id"}
            if fields:
                self.conn.execute(
                    table.update().where(table.c.id == bindparam("_id")).values(fields), batch
                )
        for columns in {tuple(sorted(r)) for r in inserts}:
            self.conn.execute(table.insert(), [r for r in inserts if tuple(sorted(r)) == columns])
        self.result.created[entity] = len(inserts)
        self.result.updated[entity] = len(rows) - len(inserts)
        self.result.counts[entity] = len(rows)
        return ids


def write_rows(
    conn: Connection, rows_by: dict[str, list[Row]], now: datetime, result: ImportResult
) -> None:
    """Upsert every entity in `ENTITIES` order (references point backwards), replace imported
    outages' areas, record the import in the audit log and move the id sequences past it."""
    w = _Writer(conn, now, result)

    def given(row: Row, *names: str, rename: dict[str, str] | None = None) -> dict[str, Any]:
        out = {}
        for name in names:
            if name in row.values:
                out[(rename or {}).get(name, name)] = row.values[name]
        return out

    member_ids = single(
        w.upsert(
            "members",
            Member.__table__,
            key_map(conn, Member.__table__, "member_number"),
            [
                (
                    (r.values["member_number"],),
                    given(r, "member_number", "first_name", "last_name", "is_senior"),
                )
                for r in rows_by["members"]
            ],
            {"is_senior": False},
        )
    )
    account_ids = single(
        w.upsert(
            "accounts",
            Account.__table__,
            key_map(conn, Account.__table__, "account_number"),
            [
                (
                    (r.values["account_number"],),
                    dict(
                        given(
                            r,
                            "account_number",
                            "status",
                            "service_street",
                            "service_town",
                            "service_zip",
                            "county",
                            "feeder",
                            "paperless",
                            "levelized_billing",
                        ),
                        member_id=member_ids[r.values["member_number"]],
                    ),
                )
                for r in rows_by["accounts"]
            ],
            {
                "status": "active",
                "county": None,
                "feeder": None,
                "paperless": False,
                "levelized_billing": False,
            },
        )
    )
    w.upsert(
        "contacts",
        Contact.__table__,
        key_map(conn, Contact.__table__, "member_id", "kind", "value"),
        [
            (
                (member_ids[r.values["member_number"]], r.values["kind"], r.values["value"]),
                dict(
                    given(r, "kind", "value", "is_primary", "is_verified"),
                    member_id=member_ids[r.values["member_number"]],
                ),
            )
            for r in rows_by["contacts"]
        ],
        {"is_primary": False, "is_verified": False},
    )
    token_ids = single(
        w.upsert(
            "payment_methods",
            PaymentMethod.__table__,
            key_map(conn, PaymentMethod.__table__, "token"),
            [
                (
                    (r.values["token"],),
                    dict(
                        given(
                            r,
                            "token",
                            "kind",
                            "brand",
                            "last4",
                            "exp_month",
                            "exp_year",
                            "holder_name",
                            "is_active",
                        ),
                        member_id=member_ids[r.values["member_number"]],
                    ),
                )
                for r in rows_by["payment_methods"]
            ],
            {
                "brand": None,
                "exp_month": None,
                "exp_year": None,
                "holder_name": None,
                "is_active": True,
            },
        )
    )
    w.upsert(
        "bills",
        Bill.__table__,
        key_map(conn, Bill.__table__, "account_id", "billing_date"),
        [
            (
                (account_ids[r.values["account_number"]], r.values["billing_date"]),
                dict(
                    given(
                        r,
                        "billing_date",
                        "period_start",
                        "period_end",
                        "due_date",
                        "amount",
                        "kwh",
                        "late_fee",
                        "paid",
                        rename={"amount": "amount_cents", "late_fee": "late_fee_cents"},
                    ),
                    account_id=account_ids[r.values["account_number"]],
                ),
            )
            for r in rows_by["bills"]
        ],
        {"late_fee_cents": 0, "paid": False},
    )
    w.upsert(
        "payments",
        Payment.__table__,
        key_map(conn, Payment.__table__, "idempotency_key"),
        [
            (
                (payment_key(r.values),),
                dict(
                    given(
                        r,
                        "amount",
                        "received_at",
                        "status",
                        "method_label",
                        "confirmation_number",
                        "channel",
                        rename={"amount": "amount_cents"},
                    ),
                    account_id=account_ids[r.values["account_number"]],
                    idempotency_key=payment_key(r.values),
                    **(
                        {"payment_method_id": token_ids[r.values["payment_method_token"]]}
                        if r.values.get("payment_method_token")
                        else {}
                    ),
                ),
            )
            for r in rows_by["payments"]
        ],
        {
            "status": "succeeded",
            "channel": "import",
            "confirmation_number": None,
            "payment_method_id": None,
            "processor_reference": None,
            "failure_reason": None,
        },
    )
    w.upsert(
        "usage",
        UsageReading.__table__,
        key_map(conn, UsageReading.__table__, "account_id", "day"),
        [
            (
                (account_ids[r.values["account_number"]], r.values["day"]),
                dict(
                    given(r, "day", "kwh", "cost", rename={"cost": "cost_cents"}),
                    account_id=account_ids[r.values["account_number"]],
                ),
            )
            for r in rows_by["usage"]
        ],
        {},
    )
    outage_ids = single(
        w.upsert(
            "outages",
            Outage.__table__,
            key_map(conn, Outage.__table__, "reference"),
            [
                (
                    (r.values["reference"],),
                    given(
                        r,
                        "reference",
                        "status",
                        "cause",
                        "crew_status",
                        "customers_affected",
                        "started_at",
                        "estimated_restoration_at",
                        "restored_at",
                    ),
                )
                for r in rows_by["outages"]
            ],
            {
                "status": "active",
                "cause": None,
                "crew_status": None,
                "customers_affected": 0,
                "estimated_restoration_at": None,
                "restored_at": None,
                "source": "billing-system import",
            },
        )
    )
    _replace_outage_areas(conn, rows_by["outages"], outage_ids)
    _apply_draft_results(conn, rows_by["draft_results"], now, result)
    conn.execute(
        AuditEntry.__table__.insert().values(
            at=now,
            actor="import",
            action="import_files",
            details={"files": result.files, "counts": result.counts},
        )
    )
    sync_id_sequences(
        conn,
        [
            t.name
            for t in (
                Member.__table__,
                Account.__table__,
                Contact.__table__,
                PaymentMethod.__table__,
                Bill.__table__,
                Payment.__table__,
                UsageReading.__table__,
                Outage.__table__,
                OutageArea.__table__,
            )
        ],
    )


def _replace_outage_areas(conn: Connection, rows: list[Row], outage_ids: dict[str, int]) -> None:
    """An imported outage's towns/ZIPs/feeders replace the areas stored for it."""
    areas = OutageArea.__table__
    new_rows = []
    for r in rows:
        v = r.values
        outage_id = outage_ids[v["reference"]]
        conn.execute(delete(areas).where(areas.c.outage_id == outage_id))
        new_rows += [
            {"outage_id": outage_id, "town": t, "zip": None, "feeder": None}
            for t in v.get("towns", [])
        ]
        new_rows += [
            {"outage_id": outage_id, "town": None, "zip": z, "feeder": None}
            for z in v.get("zips", [])
        ]
        new_rows += [
            {"outage_id": outage_id, "town": None, "zip": None, "feeder": f}
            for f in v.get("feeders", [])
        ]
    if new_rows:
        conn.execute(areas.insert(), new_rows)


class DraftResultRowError(SQLAlchemyError):
    """A draft result the database cannot take (no enrollment): the import is refused."""


def _apply_draft_results(
    conn: Connection, rows: list[Row], now: datetime, result: ImportResult
) -> None:
    """Each result through the same rule as the signed endpoint (bot/store/draft_results.py)."""
    if not rows:
        return
    applied = 0
    with Session(bind=conn) as session:  # joins the import's transaction
        for row in rows:
            v = row.values
            try:
                new, _ = apply_draft_result(
                    session,
                    DraftResult(
                        result_id=v["id"],
                        account_number=v["account_number"],
                        draft_date=v["draft_date"],
                        amount_cents=v["amount"],
                        status=v["status"],
                        return_code=v.get("return_code"),
                    ),
                    now,
                    "import",
                )
            except DraftResultError as exc:
                raise DraftResultRowError(f"{row.file} line {row.line}: {exc}") from None
            applied += int(new)
        session.flush()
    result.counts["draft_results"] = len(rows)
    result.created["draft_results"] = applied
    result.updated["draft_results"] = 0
