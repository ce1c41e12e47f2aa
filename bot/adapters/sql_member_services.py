"""`SqlMemberServices`: the default `MemberServices` over our own database (the demo data or a
co-op's imported export). Only the process containers construct it."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.balance import BalanceSummary, BillingRules, summarize_balance
from bot.services.members import (
    AccountRecord,
    Actor,
    BillRecord,
    ContactRecord,
    MethodRecord,
    PaymentRecord,
    UsageDay,
)
from bot.services.settings import write_paperless, write_preference, write_primary_contact
from bot.store.db import session_scope
from bot.store.models import Account, Bill, Contact, Member, Payment, PaymentMethod, UsageReading

_R = TypeVar("_R")


def _record(record_type: type[_R], row: object, **overrides: object) -> _R:
    """A frozen record from an ORM row: each field read from the row's attribute of the same name,
    except `overrides` (values derived or coerced here, like NULL flags read as False)."""
    names = (f.name for f in fields(record_type))
    values = {name: getattr(row, name) for name in names if name not in overrides}
    return record_type(**values, **overrides)


def _account_record(account: Account, member: Member | None = None) -> AccountRecord:
    return _record(
        AccountRecord,
        account,
        member_first_name=member.first_name if member else "",
        member_last_name=member.last_name if member else "",
        paperless=bool(account.paperless),
        levelized_billing=bool(account.levelized_billing),
    )


def bill_record(bill: Bill) -> BillRecord:
    return _record(BillRecord, bill, late_fee_cents=bill.late_fee_cents or 0, paid=bool(bill.paid))


def payment_record(payment: Payment) -> PaymentRecord:
    return _record(PaymentRecord, payment)


def method_record(method: PaymentMethod) -> MethodRecord:
    return _record(MethodRecord, method, is_active=bool(method.is_active))


def _with_member() -> Select[tuple[Account, Member]]:
    """Accounts with their member (whose name the account record carries)."""
    return select(Account, Member).join(Member, Member.id == Account.member_id)


async def _one_account(session: AsyncSession, *where: ColumnElement[bool]) -> AccountRecord | None:
    """The one account matching `where` (an id or a number), as a record, or None."""
    row = (await session.execute(_with_member().where(*where))).first()
    return _account_record(row[0], row[1]) if row else None


def normalize_account_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch not in " -")


class SqlMemberServices:
    """`MemberServices` over our own database, with the async engine.

    Each call opens its own short session from `session_factory` and closes it before returning,
    so concurrent conversations never share a session or a transaction.
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], rules: BillingRules
    ) -> None:
        self._sessions = session_factory
        self._rules = rules

    async def find_account(self, account_number: str) -> AccountRecord | None:
        number = normalize_account_number(account_number)
        if not number.isdigit():
            return None
        async with self._sessions() as session:
            return await _one_account(session, Account.account_number == number)

    async def account(self, account_id: int) -> AccountRecord | None:
        async with self._sessions() as session:
            return await _one_account(session, Account.id == account_id)

    async def accounts_for_member(self, member_id: int) -> list[AccountRecord]:
        async with self._sessions() as session:
            rows = await session.execute(
                _with_member()
                .where(Account.member_id == member_id)
                .order_by(Account.account_number)
            )
            return [_account_record(a, m) for a, m in rows]

    async def accounts_for_phone(self, e164: str) -> list[AccountRecord]:
        async with self._sessions() as session:
            rows = await session.execute(
                _with_member()
                .join(Contact, Contact.member_id == Member.id)
                .where(Contact.kind == "phone", Contact.value == e164)
                .order_by(Account.account_number)
                .distinct()
            )
            return [_account_record(a, m) for a, m in rows]

    async def balance(self, account_id: int, today: date) -> BalanceSummary:
        async with self._sessions() as session:
            account = await _one_account(session, Account.id == account_id)
            if account is None:
                raise LookupError(f"no account with id {account_id}")
            open_bills = [
                bill_record(b)
                for b in (
                    await session.scalars(
                        select(Bill).where(Bill.account_id == account_id, Bill.paid.is_(False))
                    )
                )
            ]
            newest = await session.scalar(
                select(Bill)
                .where(Bill.account_id == account_id)
                .order_by(Bill.billing_date.desc())
                .limit(1)
            )
            bills = open_bills + (
                [bill_record(newest)] if newest is not None and newest.paid else []
            )
            succeeded = select(Payment).where(
                Payment.account_id == account_id,
                Payment.status == "succeeded",
                Payment.received_at.is_not(None),
            )
            payments: dict[int, PaymentRecord] = {}
            last = await session.scalar(
                succeeded.order_by(Payment.received_at.desc(), Payment.id.desc()).limit(1)
            )
            if last is not None:
                payments[last.id] = payment_record(last)
            if open_bills:
                # A day early in UTC so no local-time payment on the billing date is missed; the
                # exact local-date comparison happens in summarize_balance.
                oldest = min(b.billing_date for b in open_bills)
                since = datetime.combine(oldest - timedelta(days=1), datetime.min.time(), UTC)
                for p in await session.scalars(succeeded.where(Payment.received_at >= since)):
                    payments[p.id] = payment_record(p)
        return summarize_balance(bills, payments.values(), today, self._rules, account=account)

    async def bills(self, account_id: int, limit: int = 12) -> list[BillRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Bill)
                .where(Bill.account_id == account_id)
                .order_by(Bill.billing_date.desc())
                .limit(limit)
            )
            return [bill_record(b) for b in rows]

    async def payments(self, account_id: int, limit: int = 10) -> list[PaymentRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Payment)
                .where(Payment.account_id == account_id)
                .order_by(
                    func.coalesce(Payment.received_at, Payment.created_at).desc(), Payment.id.desc()
                )
                .limit(limit)
            )
            return [payment_record(p) for p in rows]

    async def usage(self, account_id: int, start: date, end: date) -> list[UsageDay]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UsageReading)
                .where(
                    UsageReading.account_id == account_id,
                    UsageReading.day >= start,
                    UsageReading.day <= end,
                )
                .order_by(UsageReading.day)
            )
            return [UsageDay(r.day, Decimal(r.kwh), r.cost_cents) for r in rows]

    async def member_contacts(self, member_id: int) -> list[ContactRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Contact)
                .where(Contact.member_id == member_id)
                .order_by(Contact.is_primary.desc(), Contact.id)
            )
            return [
                ContactRecord(c.id, c.kind, c.value, bool(c.is_primary), bool(c.is_verified))
                for c in rows
            ]

    async def saved_methods(self, member_id: int) -> list[MethodRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(PaymentMethod)
                .where(PaymentMethod.member_id == member_id, PaymentMethod.is_active.is_(True))
                .order_by(PaymentMethod.id)
            )
            return [method_record(m) for m in rows]

    # ---- the write side: the change, its audit entry and its event in one transaction

    async def set_paperless(self, actor: Actor, on: bool, *, now: datetime) -> bool:
        async with session_scope(self._sessions) as session:
            return await write_paperless(session, actor, on, now=now)

    async def set_notification_preference(
        self, actor: Actor, topic: str, channel: str, enabled: bool, *, now: datetime
    ) -> bool:
        async with session_scope(self._sessions) as session:
            return await write_preference(session, actor, topic, channel, enabled, now=now)

    async def set_primary_contact(
        self, actor: Actor, kind: str, value: str, *, now: datetime
    ) -> str | None:
        async with session_scope(self._sessions) as session:
            return await write_primary_contact(session, actor, kind, value, now=now)
