"""What the assistant reads about a member from the co-op's billing system: the records and the
`MemberServices` protocol.

A co-op that keeps its billing system of record elsewhere implements `MemberServices` as an
adapter (next to `bot.adapters.sql_member_services.SqlMemberServices`, the default over our own
database); nothing else in the assistant changes. Records are plain frozen dataclasses: no ORM
object ever leaks out, and none ever holds a full card or bank account number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, events
from bot.services.balance import BalanceSummary


@dataclass(frozen=True)
class AccountRecord:
    """One service account. `status` is `active`, `disconnected` or `final` (closed)."""

    id: int
    account_number: str
    member_id: int
    status: str
    service_street: str
    service_town: str
    service_zip: str
    member_first_name: str = ""
    member_last_name: str = ""
    paperless: bool = False
    levelized_billing: bool = False

    @property
    def last4(self) -> str:
        return self.account_number[-4:]

    @property
    def service_address(self) -> str:
        """`412 Mill St, Wrens`: how the assistant names the place, never with the ZIP."""
        return f"{self.service_street}, {self.service_town}"


@dataclass(frozen=True)
class BillRecord:
    id: int
    account_id: int
    period_start: date
    period_end: date
    billing_date: date
    due_date: date
    amount_cents: int
    kwh: int
    late_fee_cents: int = 0
    paid: bool = False


PaymentStatus = Literal["pending", "succeeded", "declined", "failed"]


@dataclass(frozen=True)
class PaymentRecord:
    """A payment attempt. `received_at` is set once the money was accepted (status succeeded)."""

    id: int
    account_id: int
    amount_cents: int
    method_label: str
    status: str
    channel: str
    created_at: datetime
    received_at: datetime | None = None
    confirmation_number: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class UsageDay:
    day: date
    kwh: Decimal
    cost_cents: int


@dataclass(frozen=True)
class ContactRecord:
    """A phone (E.164) or email on file. Show it masked to members; it is the OTP destination."""

    id: int
    kind: str  # phone|email
    value: str
    is_primary: bool
    is_verified: bool


@dataclass(frozen=True)
class MethodRecord:
    """A saved payment method as the conversation may see it: no token, never a full number."""

    id: int
    member_id: int
    kind: str  # card|checking|savings
    brand: str | None
    last4: str
    exp_month: int | None = None
    exp_year: int | None = None
    holder_name: str | None = None
    is_active: bool = True

    @property
    def label(self) -> str:
        """`Visa ending 4242`, `Checking ending 6120`."""
        return method_label(self.kind, self.brand, self.last4)

    @property
    def phrase(self) -> str:
        """`checking ending 6120`: the label mid-sentence."""
        return method_phrase(self.kind, self.brand, self.last4)

    def expired(self, today: date) -> bool:
        """A card is good through the last day of its expiry month; bank accounts never expire."""
        if self.exp_month is None or self.exp_year is None:
            return False
        return (today.year, today.month) > (self.exp_year, self.exp_month)


def method_label(kind: str, brand: str | None, last4: str) -> str:
    """The one wording of a payment method used everywhere (conversation, receipts, audit)."""
    if kind == "card":
        return f"{brand or 'Card'} ending {last4}"
    return f"{kind.capitalize()} ending {last4}"


def method_phrase(kind: str, brand: str | None, last4: str) -> str:
    """`method_label` as it reads mid-sentence ("from checking ending 6120"); a card brand is a
    name and keeps its capital ("Visa ending 4242")."""
    label = method_label(kind, brand, last4)
    return label if kind == "card" and brand else label[:1].lower() + label[1:]


@dataclass(frozen=True)
class Actor:
    """Who is changing what in chat (a verified member, on one account and conversation): the
    facts of the audit entry and the integration event every change writes."""

    member_id: int
    account_id: int
    conversation_id: str
    channel: str
    verified_how: str | None = None

    @property
    def name(self) -> str:
        return f"member:{self.member_id}"

    async def audit(
        self, session: AsyncSession, action: str, details: dict[str, object], *, now: datetime
    ) -> None:
        """One audit entry for this actor's change, in the caller's transaction."""
        await audit.record(
            session,
            actor=self.name,
            action=action,
            account_id=self.account_id,
            conversation_id=self.conversation_id,
            channel=self.channel,
            verified_how=self.verified_how,
            details=details,
            now=now,
        )

    async def publish(
        self, session: AsyncSession, kind: str, data: dict[str, object], *, now: datetime
    ) -> None:
        """The integration event of this actor's change, in the caller's transaction."""
        await events.publish(
            session,
            kind,
            occurred_at=now,
            data=data,
            account_id=self.account_id,
            member_id=self.member_id,
            channel=self.channel,
            conversation_id=self.conversation_id,
        )


@runtime_checkable
class MemberServices(Protocol):
    """How the assistant reads a member's records from the co-op's billing system.

    For IT staff writing a live adapter (for example over the billing vendor's REST API):

    - Every method is `async` and must not block the event loop: use an async HTTP client with a
      timeout (aiohttp) or run blocking client code in a thread. Raise an exception on an outage
      of the billing system; the assistant apologises and offers the phone line. Never return
      partial data silently.
    - Return only the record dataclasses of this module; copy what you need from your system's
      objects. Never put a full card or bank account number, CVV or processor secret in them.
    - Amounts are integer cents; dates are `date` in the co-op's local time; timestamps are
      timezone-aware `datetime`.
    - `find_account` returns None for an unknown number; the assistant never tells the member
      which part of their answer was wrong, so do not raise a distinct error for "not found".
    - Account ids (`AccountRecord.id`) and member ids are your system's stable keys, opaque to the
      assistant; it only passes them back to you.
    - `balance` must follow the balance rule of `bot.services.balance`; the simplest correct
      adapter fetches bills and payments and calls `summarize_balance`. If your system computes
      the balance itself, map its figures onto `BalanceSummary` field by field.
    - The write side (`set_...`) applies a change the member made in chat, already checked by
      the assistant (the member verified, a new contact confirmed by a code sent to it). Apply it
      in your system, then record it in the assistant's database with the matching
      `bot.services.settings.write_...` function (the audit entry and the integration event,
      docs/integration.md); raise on failure, and nothing is recorded. Return whether anything
      changed (False when the value already was so).
    """

    async def find_account(self, account_number: str) -> AccountRecord | None:
        """The account with this 10-digit number (spaces and dashes ignored), or None."""
        ...

    async def account(self, account_id: int) -> AccountRecord | None:
        """The account with this id, or None."""
        ...

    async def accounts_for_member(self, member_id: int) -> list[AccountRecord]:
        """Every account the member holds, by account number."""
        ...

    async def accounts_for_phone(self, e164: str) -> list[AccountRecord]:
        """Accounts of members with this phone (E.164, e.g. `+17065550101`) on file."""
        ...

    async def balance(self, account_id: int, today: date) -> BalanceSummary:
        """The balance summary as of `today` (local date)."""
        ...

    async def bills(self, account_id: int, limit: int = 12) -> list[BillRecord]:
        """The most recent bills, newest first."""
        ...

    async def payments(self, account_id: int, limit: int = 10) -> list[PaymentRecord]:
        """The most recent payment attempts of any status, newest first."""
        ...

    async def usage(self, account_id: int, start: date, end: date) -> list[UsageDay]:
        """Daily readings from `start` to `end` inclusive, oldest first; missing days are absent."""
        ...

    async def member_contacts(self, member_id: int) -> list[ContactRecord]:
        """Phones and emails on file, primary first."""
        ...

    async def saved_methods(self, member_id: int) -> list[MethodRecord]:
        """Active saved payment methods (expired cards included; the caller decides)."""
        ...

    # ---- the write side: changes made in chat

    async def set_paperless(self, actor: Actor, on: bool, *, now: datetime) -> bool:
        """Paperless billing on or off for the actor's account; True if it changed."""
        ...

    async def set_notification_preference(
        self, actor: Actor, topic: str, channel: str, enabled: bool, *, now: datetime
    ) -> bool:
        """One notification (topic `outage|bill_ready|payment_received|past_due`, channel
        `sms|email`) on or off for the actor's account; True if it changed."""
        ...

    async def set_primary_contact(
        self, actor: Actor, kind: str, value: str, *, now: datetime
    ) -> str | None:
        """Make `value` (E.164 phone or email, confirmed) the member's primary contact of its
        `kind`; returns the previous primary value, or None."""
        ...
