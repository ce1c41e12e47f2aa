"""Rows the data-layer tests seed, one line each: a service account at a known address, a saved
card or bank account, a payment.

The addresses are the demo's named members' (`bot/demo/named.py`), so a test reads like the
demo: Dana's home is 412 Mill St, Wrens. Any other address is passed in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Account, Bill, Member, Payment, PaymentMethod

# account number -> (street, town, ZIP)
ADDRESSES = {
    "1000004821": ("412 Mill St", "Wrens", "30833"),  # Dana Whitfield's home
    "1000005560": ("27 Broad St", "Wrens", "30833"),  # Marcus Reed's house
    "1000005578": ("3400 Hwy 88", "Blythe", "30805"),  # Marcus Reed's shop
    "1000007315": ("88 Church St", "Louisville", "30434"),  # Earl Hardeman's home
}


async def member(session: AsyncSession, number: str, first_name: str, last_name: str) -> Member:
    """A `Member` numbered `number`, added to `session` and flushed (its id is known)."""
    row = Member(member_number=number, first_name=first_name, last_name=last_name)
    session.add(row)
    await session.flush()
    return row


def account(
    owner: Member, number: str, address: tuple[str, str, str] | None = None, **columns: Any
) -> Account:
    """An `Account` of `owner` numbered `number`, at `address` (street, town, ZIP) or the one
    `ADDRESSES` knows for that number; `columns` sets anything else (status, paperless).

    An owner not yet flushed is linked by the relationship, so it works before the ids exist.
    """
    street, town, zip_code = address or ADDRESSES[number]
    owner_link: dict[str, Any] = (
        {"member_id": owner.id} if owner.id is not None else {"member": owner}
    )
    return Account(
        account_number=number,
        service_street=street,
        service_town=town,
        service_zip=zip_code,
        **owner_link,
        **columns,
    )


def bill(
    account_id: int, cents: int, period: tuple[date, date], billed: date, due: date, *, kwh: int
) -> Bill:
    """A `Bill` of `cents` on the account for the `period` (first day, last day) in which `kwh`
    were used, billed on `billed` and due on `due`."""
    start, end = period
    return Bill(
        account_id=account_id,
        period_start=start,
        period_end=end,
        billing_date=billed,
        due_date=due,
        amount_cents=cents,
        kwh=kwh,
    )


def card(owner: Member, token: str, **columns: Any) -> PaymentMethod:
    """A saved card of `owner`: the sandbox Visa ending 4242, expiring 9/2028, unless `columns`
    say otherwise (last4, expiry, is_active)."""
    defaults: dict[str, Any] = {
        "kind": "card",
        "brand": "Visa",
        "last4": "4242",
        "exp_month": 9,
        "exp_year": 2028,
    }
    return PaymentMethod(member_id=owner.id, token=token, **(defaults | columns))


def bank(owner: Member, token: str, last4: str, kind: str = "checking") -> PaymentMethod:
    """A saved bank account of `owner` (checking or savings), as the sandbox tokenizes one."""
    return PaymentMethod(member_id=owner.id, token=token, kind=kind, brand="Bank", last4=last4)


def payment(
    account_id: int,
    cents: int,
    key: str,
    label: str = "Visa ending 4242",
    *,
    status: str = "succeeded",
    channel: str = "web",
    **columns: Any,
) -> Payment:
    """A `Payment` of `cents` on the account, idempotency key `key`, paid with `label`;
    `columns` sets anything else (the saved method, times, confirmation number)."""
    return Payment(
        account_id=account_id,
        amount_cents=cents,
        method_label=label,
        status=status,
        idempotency_key=key,
        channel=channel,
        **columns,
    )
