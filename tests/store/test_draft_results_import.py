"""Draft results by import (`draft_results`): the same rule as the signed endpoint, once per id."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from bot.store.db import make_sync_engine, sync_session_factory
from bot.store.importer import import_files
from bot.store.models import DraftEnrollment, Member, Payment, ScheduledDraft
from tests.store import rows

NOW = datetime(2026, 12, 18, 22, 0, tzinfo=UTC)


def seed(url: str) -> None:
    engine = make_sync_engine(url)
    with sync_session_factory(engine)() as s, s.begin():
        earl = Member(member_number="M2", first_name="Earl", last_name="Hardeman")
        s.add(earl)
        s.flush()
        account = rows.account(earl, "1000007315")
        checking = rows.bank(earl, "tok_chk", "6120")
        s.add_all([account, checking])
        s.flush()
        s.add(
            DraftEnrollment(
                account_id=account.id,
                payment_method_id=checking.id,
                draft_day=18,
                amount_rule="full_balance",
                starts_on=date(2026, 12, 18),
            )
        )
    engine.dispose()


def write(tmp_path: Path, *results: dict) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"draft_results": list(results)}))
    return path


PAID = {
    "id": "drf-1",
    "account_number": "1000007315",
    "draft_date": "2026-12-18",
    "amount": "142.87",
    "status": "paid",
}


def stored(url: str) -> tuple[list[ScheduledDraft], list[Payment]]:
    engine = make_sync_engine(url)
    with sync_session_factory(engine)() as s:
        found = list(s.scalars(select(ScheduledDraft))), list(s.scalars(select(Payment)))
    engine.dispose()
    return found


def test_an_imported_draft_result_writes_the_run_and_payment_once(sqlite_url, tmp_path) -> None:
    seed(sqlite_url)
    result = import_files(sqlite_url, [write(tmp_path, PAID)], now=NOW)
    assert result.ok, result.summary()
    [run], [payment] = stored(sqlite_url)
    assert (run.status, run.amount_cents) == ("succeeded", 14287)
    assert (payment.status, payment.channel, payment.amount_cents) == ("succeeded", "draft", 14287)
    assert import_files(sqlite_url, [write(tmp_path, PAID)], now=NOW).ok  # again: no change
    runs, payments = stored(sqlite_url)
    assert len(runs) == 1 and len(payments) == 1


def test_a_bad_draft_result_fails_the_whole_import(sqlite_url, tmp_path) -> None:
    seed(sqlite_url)
    returned = PAID | {"id": "drf-2", "status": "returned"}  # no return code
    result = import_files(sqlite_url, [write(tmp_path, PAID, returned)], now=NOW)
    assert not result.ok and "return_code" in result.summary()
    no_enrollment = PAID | {"id": "drf-3", "draft_date": "2026-11-18"}  # before it started
    result = import_files(sqlite_url, [write(tmp_path, PAID, no_enrollment)], now=NOW)
    assert not result.ok and "no draft enrollment" in result.summary()
    assert stored(sqlite_url) == ([], [])
