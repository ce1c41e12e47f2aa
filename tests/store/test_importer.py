"""Importing a co-op's export: good files load, bad rows are named, nothing is half-written."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from bot.store.db import make_sync_engine, sync_session_factory
from bot.store.importer import import_files
from bot.store.models import (
    Account,
    Bill,
    Contact,
    Member,
    OutageArea,
    Payment,
    PaymentMethod,
    UsageReading,
)

GOOD = {
    "members": [
        {"member_number": "A-1001", "first_name": "Ada", "last_name": "Lovell", "is_senior": True},
        {"member_number": "A-1002", "first_name": "Cy", "last_name": "Pope"},
    ],
    "accounts": [
        {
            "account_number": "3000000001",
            "member_number": "A-1001",
            "service_street": "12 Depot St",
            "service_town": "Wadley",
            "service_zip": "30477",
        },
        {
            "account_number": "0300000002",
            "member_number": "A-1002",
            "status": "final",
            "service_street": "9 Duke Rd",
            "service_town": "Bartow",
            "service_zip": "30413-0009",
        },
    ],
    "contacts": [
        {
            "member_number": "A-1001",
            "kind": "phone",
            "value": "+17065550199",
            "is_verified": True,
            "is_primary": True,
        },
        {"member_number": "A-1001", "kind": "email", "value": "Ada@Example.com"},
    ],
    "payment_methods": [
        {
            "member_number": "A-1001",
            "token": "tok_sandbox_visa_A1001",
            "kind": "card",
            "brand": "Visa",
            "last4": "4242",
            "exp_month": 4,
            "exp_year": 2029,
        },
    ],
    "bills": [
        {
            "account_number": "3000000001",
            "billing_date": "2026-11-10",
            "period_start": "2026-10-10",
            "period_end": "2026-11-09",
            "due_date": "2026-11-25",
            "amount": "142.87",
            "kwh": 930,
            "paid": True,
        },
    ],
    "payments": [
        {
            "account_number": "3000000001",
            "amount": "142.87",
            "received_at": "2026-11-20T10:15:00-05:00",
            "method_label": "Visa ending 4242",
            "confirmation_number": "X123",
            "payment_method_token": "tok_sandbox_visa_A1001",
        },
    ],
    "usage": [
        {"account_number": "3000000001", "day": "2026-11-27", "kwh": "31.25", "cost": "3.72"}
    ],
    "outages": [
        {
            "reference": "OMS-77",
            "started_at": "2026-11-28T09:00:00Z",
            "towns": ["Wadley"],
            "zips": ["30477"],
            "cause": "tree on line",
        }
    ],
}

CSV_FILES = {
    "members.csv": (
        "member_number,first_name,last_name,is_senior\nB-1,Bea,Hill,no\nB-2,Al,Ward,yes\n"
    ),
    "accounts.csv": (
        "account_number,member_number,status,service_street,service_town,service_zip,paperless\n"
        "4000000001,B-1,active,1 Oak St,Gibson,30810,yes\n"
        "4000000002,B-2,active,2 Oak St,Gibson,30810,no\n"
    ),
    "contacts.csv": "member_number,kind,value,is_verified\nB-1,phone,+17625550123,true\n",
    "payment_methods.csv": (
        "member_number,token,kind,brand,last4,holder_name\n"
        "B-2,tok_sandbox_bank_B2,checking,First Farmers Bank,6120,Al Ward\n"
    ),
    "bills.csv": (
        "account_number,billing_date,period_start,period_end,due_date,amount,kwh,late_fee,paid\n"
        "4000000001,2026-10-05,2026-09-05,2026-10-04,2026-10-20,38.10,180,3.00,false\n"
        "4000000001,2026-11-05,2026-10-05,2026-11-04,2026-11-20,96.55,540,,false\n"
    ),
    "payments.csv": (
        "account_number,amount,received_at,method_label,idempotency_key,channel\n"
        "4000000002,118.20,2026-11-02T09:00:00-05:00,Office,legacy-991,office\n"
    ),
    "usage.csv": "account_number,day,kwh,cost\n4000000001,2026-11-27,12.5,1.49\n",
    "outages.csv": (
        "reference,started_at,towns,zips\nOMS-9,2026-11-28T08:00:00-05:00,Gibson;Mitchell,30810\n"
    ),
}


def _write_csv(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
        paths.append(folder / name)
    return paths


def _count(url: str, model) -> int:
    engine = make_sync_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return n


def test_good_json_imports_and_reimport_updates(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(GOOD, indent=2), encoding="utf-8")
    result = import_files(db_url, [path])
    assert result.ok, result.summary()
    assert result.counts["members"] == 2 and result.created["bills"] == 1
    engine = make_sync_engine(db_url)
    with sync_session_factory(engine)() as s:
        account = s.scalars(select(Account).where(Account.account_number == "0300000002")).one()
        assert account.status == "final" and account.service_zip == "30413-0009"
        bill = s.scalars(select(Bill)).one()
        assert bill.amount_cents == 14287 and bill.paid
        payment = s.scalars(select(Payment)).one()
        assert payment.amount_cents == 14287 and payment.received_at.hour == 15
        assert payment.idempotency_key == "import:3000000001:X123"
        assert payment.payment_method_id == s.scalars(select(PaymentMethod.id)).one()
        assert (
            s.scalars(select(Contact.value).where(Contact.kind == "email")).one()
            == "ada@example.com"
        )
        assert str(s.scalars(select(UsageReading.kwh)).one()) == "31.25"
        assert {(a.town, a.zip) for a in s.scalars(select(OutageArea))} == {
            ("Wadley", None),
            (None, "30477"),
        }
    engine.dispose()

    GOOD_CHANGED = json.loads(json.dumps(GOOD))
    GOOD_CHANGED["members"][1]["last_name"] = "Pope-Hill"
    path.write_text(json.dumps(GOOD_CHANGED), encoding="utf-8")
    again = import_files(db_url, [path])
    assert again.ok and again.created["members"] == 0 and again.updated["members"] == 2
    assert _count(db_url, Member) == 2 and _count(db_url, Payment) == 1
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(Member.last_name).where(Member.member_number == "A-1002")
            ).scalar_one()
            == "Pope-Hill"
        )
    engine.dispose()


def test_good_csv_set_imports(db_url: str, tmp_path: Path) -> None:
    result = import_files(db_url, _write_csv(tmp_path / "csv", CSV_FILES))
    assert result.ok, result.summary()
    assert "members 2" in result.summary()
    engine = make_sync_engine(db_url)
    with sync_session_factory(engine)() as s:
        bills = s.scalars(select(Bill).order_by(Bill.billing_date)).all()
        assert [(b.amount_cents, b.late_fee_cents) for b in bills] == [(3810, 300), (9655, 0)]
        method = s.scalars(select(PaymentMethod)).one()
        assert (method.kind, method.last4, method.token) == (
            "checking",
            "6120",
            "tok_sandbox_bank_B2",
        )
        assert s.scalars(select(Payment.channel)).one() == "office"
        assert sorted(a.town for a in s.scalars(select(OutageArea)) if a.town) == [
            "Gibson",
            "Mitchell",
        ]
    engine.dispose()


def test_bad_rows_are_all_reported_and_nothing_is_written(db_url: str, tmp_path: Path) -> None:
    bad = dict(CSV_FILES)
    bad["accounts.csv"] = (
        "account_number,member_number,status,service_street,service_town,service_zip\n"
        "4000000001,B-1,active,1 Oak St,Gibson,30810\n"
        "40000002,B-2,active,2 Oak St,Gibson,3081\n"
    )  # line 3: short number, bad ZIP
    bad["contacts.csv"] = (
        "member_number,kind,value\nB-1,phone,706-555-0123\nB-9,email,x@example.com\n"
    )
    bad["bills.csv"] = (
        "account_number,billing_date,period_start,period_end,due_date,amount,kwh\n"
        "4000000001,2026-10-05,2026-09-05,2026-10-04,2026-10-20,38.1O,180\n"
    )  # letter O
    result = import_files(db_url, _write_csv(tmp_path / "bad", bad))
    assert not result.ok
    where = {(e.file, e.line) for e in result.errors}
    assert ("accounts.csv", 3) in where
    assert ("contacts.csv", 2) in where
    assert ("bills.csv", 2) in where
    reasons = " | ".join(e.reason for e in result.errors)
    assert "10-digit account number" in reasons and "ZIP code" in reasons
    assert "E.164" in reasons and "amount" in reasons
    assert "nothing was written" in result.summary()
    assert _count(db_url, Member) == 0 and _count(db_url, Account) == 0


def test_a_reference_problem_found_late_still_writes_nothing(db_url: str, tmp_path: Path) -> None:
    data = json.loads(json.dumps(GOOD))
    data["bills"][0]["account_number"] = "9999999999"  # valid shape, unknown account
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    result = import_files(db_url, [path])
    assert not result.ok
    [error] = result.errors
    assert error.file == "export.json" and "9999999999" in error.reason
    line_text = path.read_text().splitlines()[error.line - 1]
    assert line_text.strip() == "{"  # the line where that bill's object starts
    assert '"9999999999"' in "\n".join(path.read_text().splitlines()[error.line : error.line + 2])
    assert _count(db_url, Member) == 0 and _count(db_url, Bill) == 0


def test_card_numbers_are_rejected_never_stored(db_url: str, tmp_path: Path) -> None:
    data = json.loads(json.dumps(GOOD))
    data["payment_methods"][0]["card_number"] = "4242424242424242"
    data["payment_methods"].append(
        {"member_number": "A-1002", "token": "tok_x_1234", "kind": "checking", "last4": "12345"}
    )
    data["payment_methods"].append(
        {
            "member_number": "A-1002",
            "token": "tok_y_9999",
            "kind": "savings",
            "last4": "9999",
            "bank_account_number": "000123456789",
        }
    )
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    result = import_files(db_url, [path])
    assert not result.ok
    reasons = [e.reason for e in result.errors]
    assert any("card_number" in r and "token" in r for r in reasons)
    assert any("last4" in r and "four digits" in r for r in reasons)
    assert any("bank_account_number" in r for r in reasons)
    assert "4242424242424242" not in result.summary()
    assert _count(db_url, PaymentMethod) == 0 and _count(db_url, Member) == 0


def test_csv_card_number_column_is_rejected(db_url: str, tmp_path: Path) -> None:
    files = dict(CSV_FILES)
    files["payment_methods.csv"] = (
        "member_number,token,kind,last4,card_number\n"
        "B-1,tok_sandbox_visa_B1,card,4242,4242 4242 4242 4242\n"
    )
    result = import_files(db_url, _write_csv(tmp_path / "pan", files))
    assert not result.ok
    assert [(e.file, e.line) for e in result.errors] == [("payment_methods.csv", 2)]
    assert _count(db_url, PaymentMethod) == 0


def test_money_must_be_a_string_and_unknown_fields_are_named(db_url: str, tmp_path: Path) -> None:
    data = json.loads(json.dumps(GOOD))
    data["bills"][0]["amount"] = 142.87
    data["members"][0]["favourite_colour"] = "blue"
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    result = import_files(db_url, [path])
    reasons = " | ".join(str(e) for e in result.errors)
    assert not result.ok
    assert "as a string" in reasons and "favourite_colour" in reasons
