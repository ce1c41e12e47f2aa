"""The models keep what a member sees exact: aware UTC times, cents, one payment per key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.store.db import make_sync_engine, sync_session_factory
from bot.store.models import Account, Bill, Member, Payment
from tests.store import rows


def _member_with_account(session) -> Account:
    member = Member(member_number="T1", first_name="Test", last_name="Member")
    account = rows.account(member, "1234567890", ("1 Main St", "Wrens", "30833"))
    session.add_all([member, account])
    session.flush()
    return account


def test_times_come_back_aware_utc_and_cents_exact(db_url: str) -> None:
    engine = make_sync_engine(db_url)
    factory = sync_session_factory(engine)
    local = datetime(2026, 11, 28, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    with factory() as session:
        account = _member_with_account(session)
        billed, due = date(2026, 11, 10), date(2026, 11, 25)
        period = (date(2026, 10, 10), date(2026, 11, 9))
        session.add(rows.bill(account.id, 14287, period, billed, due, kwh=930))
        session.add(
            rows.payment(
                account.id,
                11820,
                "k-1",
                "Office",
                channel="office",
                confirmation_number="C1",
                created_at=local,
                received_at=local,
            )
        )
        session.commit()
    with factory() as session:
        payment = session.scalars(select(Payment)).one()
        bill = session.scalars(select(Bill)).one()
        assert payment.received_at == local
        assert payment.received_at.utcoffset() == timedelta(0)
        assert payment.received_at.tzinfo is not None
        assert payment.received_at.hour == 14  # 9:30 EST is 14:30 UTC
        assert payment.amount_cents == 11820 and isinstance(payment.amount_cents, int)
        assert bill.amount_cents == 14287
        assert bill.due_date == date(2026, 11, 25)
    engine.dispose()


def test_naive_datetime_is_refused(db_url: str) -> None:
    engine = make_sync_engine(db_url)
    with sync_session_factory(engine)() as session:
        session.add(
            Member(
                member_number="T2",
                first_name="A",
                last_name="B",
                created_at=datetime(2026, 11, 28, 12, 0),
            )
        )
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()
    engine.dispose()


def test_the_same_idempotency_key_cannot_be_stored_twice(db_url: str) -> None:
    engine = make_sync_engine(db_url)
    with sync_session_factory(engine)() as session:
        account = _member_with_account(session)
        now = datetime(2026, 11, 28, 15, tzinfo=UTC)
        for n in range(2):
            session.add(
                rows.payment(
                    account.id, 500, "same-key", "Visa", created_at=now + timedelta(seconds=n)
                )
            )
        with pytest.raises(IntegrityError):
            session.flush()
    engine.dispose()
