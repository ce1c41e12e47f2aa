"""Taking a payment: limits, saved methods, idempotency, the processor and its sandbox.

`PaymentService.pay` is the only way the assistant charges a member. It is safe to call twice:

1. A payment with the same idempotency key already on file? Return it (`duplicate=True`); no charge.
2. Validate: amount within the profile's minimum and maximum; the account belongs to the member
   and is not closed (`final`; a `disconnected` account may pay, that is how it gets reconnected);
   the saved method belongs to the member, is active and, for a card, not expired.
3. Insert a `pending` payment row carrying the unique idempotency key and **commit**. If another
   task got there first, the unique key fails the insert: we wait briefly for that task to finish
   and return its result (`duplicate=True`) without charging. So two concurrent submissions of one
   payment charge exactly once, on SQLite and PostgreSQL alike.
4. Charge the processor (with the same idempotency key, and a timeout: a timeout counts as a
   processor error), with no database session held open meanwhile.
5. Record the result: `succeeded` (confirmation number like `P-7Q2K9D`, `received_at`),
   `declined` (a member-friendly reason) or `failed` (processor error or timeout). A failed or
   declined row stays; a retry with the same key returns it, a new attempt needs a new key.
   Every attempt, including refusals and duplicates, writes an audit entry (never a token).

Posting: a succeeded payment does not mark bills paid. The billing system does that when the
payment posts (the profile's `online_payment_posting`, "1-2 business days"); until then the balance
summary credits it (see `bot.services.billing`).

Sandbox triggers (`SandboxProcessor`, the embedded default; the README copies this table):

| what | result |
| --- | --- |
| card 4242 4242 4242 4242 (any future expiry, any 3-digit CVV) | tokenizes; charges succeed |
| card 4000 0000 0000 0002 | tokenizes to a token containing `decline`; charges are declined |
| card 4000 0000 0000 0119 | tokenizes to `tok_sandbox_error_...`; charges fail (processor error) |
| bank account number 000000002 (any valid routing number, e.g. 011000015) | declining token |
| any token containing `decline` | declined: "card declined" |
| token `tok_sandbox_error` or any token containing `error` | processor error |
| amount ending in 13 cents (e.g. $20.13) | declined: "insufficient funds" |
| amount ending in 14 cents (e.g. $20.14) | processor error |
| amount ending in 15 cents (e.g. $20.15) | the processor does not answer in time (timeout) |

Any other valid card number passing Luhn, or routing number passing the ABA checksum, tokenizes
and succeeds. A repeated idempotency key returns the first result without charging again.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import audit
from bot.services.billing import method_label
from bot.services.checks import aba_routing_valid, card_brand, luhn_valid
from bot.services.money import format_cents
from bot.store.models import Account, Payment, PaymentMethod

# --------------------------------------------------------------------------------------------
# The processor interface
# --------------------------------------------------------------------------------------------

ProcessorStatus = Literal["succeeded", "declined", "error"]


@dataclass(frozen=True)
class ProcessorResult:
    status: ProcessorStatus
    reference: str | None = None  # the processor's id for the charge
    decline_reason: str | None = None  # processor wording; shown to staff, not verbatim to members


@dataclass(frozen=True)
class CardToken:
    """What a tokenized card leaves behind: everything we may store, nothing more."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    holder_name: str
    kind: str = "card"


@dataclass(frozen=True)
class BankToken:
    token: str
    last4: str
    kind: str  # checking|savings
    holder_name: str
    brand: str | None = None  # bank name, when the processor knows it


class TokenizeError(ValueError):
    """The details typed on the secure page are not a usable card or bank account.

    The message is member-friendly and never repeats the number.
    """


@runtime_checkable
class PaymentProcessor(Protocol):
    """A card and bank (ACH) processor. Production wraps the processor's API and hosted page.

    - `charge` must honour `idempotency_key`: the same key again returns the first result without
      moving money (every real processor supports this; pass the key through).
    - `charge` returns `declined` for a decision by the bank, `error` when the processor could
      not decide; it should not raise, but the service treats an exception as `error`.
    - `tokenize_*` runs behind the secure payment page only. It returns a token plus what we may
      store; it must never return, log or keep the full number or the CVV.
    """

    async def charge(
        self, token: str, amount_cents: int, idempotency_key: str
    ) -> ProcessorResult: ...

    async def tokenize_card(
        self, *, number: str, exp_month: int, exp_year: int, cvv: str, name: str, today: date
    ) -> CardToken: ...

    async def tokenize_bank(
        self, *, routing: str, account: str, kind: str, name: str
    ) -> BankToken: ...


ACCEPTED_BRANDS = frozenset({"Visa", "Mastercard", "American Express", "Discover"})


def _digits(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw)


# --------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------

SANDBOX_DECLINE_CARDS = frozenset({"4000000000000002"})
SANDBOX_ERROR_CARDS = frozenset({"4000000000000119"})
SANDBOX_DECLINE_BANK_ACCOUNTS = frozenset({"000000002"})


class SandboxProcessor:
    """A deterministic stand-in processor: outcomes follow the triggers in the module docstring.

    It keeps no card or bank number, only which token declines (encoded in the token itself).
    `charges` lists every charge that moved (pretend) money, for tests and the demo.
    `hang_seconds` is how long a "timeout" amount (ending in 15 cents) takes to answer.
    """

    def __init__(self, *, hang_seconds: float = 60.0) -> None:
        self.hang_seconds = hang_seconds
        self.charges: list[tuple[str, int, str]] = []
        self._results: dict[str, ProcessorResult] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def charge(self, token: str, amount_cents: int, idempotency_key: str) -> ProcessorResult:
        lock = self._locks.setdefault(idempotency_key, asyncio.Lock())
        async with lock:
            if idempotency_key in self._results:
                return self._results[idempotency_key]
            if amount_cents % 100 == 15:
                await asyncio.sleep(self.hang_seconds)
            result = self._decide(token, amount_cents)
            if result.status == "succeeded":
                self.charges.append((token, amount_cents, idempotency_key))
            self._results[idempotency_key] = result
            return result

    @staticmethod
    def _decide(token: str, amount_cents: int) -> ProcessorResult:
        reference = f"sbx_{secrets.token_hex(6)}"
        if "error" in token or amount_cents % 100 == 14:
            return ProcessorResult("error", reference, "processor unavailable")
        if "decline" in token:
            return ProcessorResult("declined", reference, "card declined")
        if amount_cents % 100 == 13:
            return ProcessorResult("declined", reference, "insufficient funds")
        return ProcessorResult("succeeded", reference)

    async def tokenize_card(
        self, *, number: str, exp_month: int, exp_year: int, cvv: str, name: str, today: date
    ) -> CardToken:
        digits = _digits(number)
        if not (13 <= len(digits) <= 19 and luhn_valid(digits)):
            raise TokenizeError(
                "That card number doesn't look right. Please check it and try again."
            )
        brand = card_brand(digits)
        if brand not in ACCEPTED_BRANDS:
            raise TokenizeError("We accept Visa, Mastercard, American Express and Discover.")
        if not (1 <= exp_month <= 12) or (exp_year, exp_month) < (today.year, today.month):
            raise TokenizeError("That card has expired or the expiry date isn't right.")
        cvv_len = 4 if brand == "American Express" else 3
        if not (cvv.isdigit() and len(cvv) == cvv_len):
            raise TokenizeError("The security code doesn't look right.")
        if not name.strip():
            raise TokenizeError("Please enter the name on the card.")
        if digits in SANDBOX_DECLINE_CARDS:
            prefix = "tok_sandbox_decline_"
        elif digits in SANDBOX_ERROR_CARDS:
            prefix = "tok_sandbox_error_"
        else:
            prefix = "tok_sandbox_"
        return CardToken(
            token=prefix + secrets.token_hex(8),
            brand=brand,
            last4=digits[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
            holder_name=name.strip(),
        )

    async def tokenize_bank(self, *, routing: str, account: str, kind: str, name: str) -> BankToken:
        routing_digits, account_digits = _digits(routing), _digits(account)
        if not aba_routing_valid(routing_digits):
            raise TokenizeError(
                "That routing number doesn't look right. It's the 9 digits at the bottom left of a check."
            )
        if not (account_digits.isdigit() and 4 <= len(account_digits) <= 17):
            raise TokenizeError(
                "That account number doesn't look right. Please check it and try again."
            )
        if kind not in {"checking", "savings"}:
            raise TokenizeError("Please choose checking or savings.")
        if not name.strip():
            raise TokenizeError("Please enter the name on the bank account.")
        declines = account_digits in SANDBOX_DECLINE_BANK_ACCOUNTS
        prefix = "tok_sandbox_decline_" if declines else "tok_sandbox_"
        return BankToken(
            token=prefix + secrets.token_hex(8),
            last4=account_digits[-4:],
            kind=kind,
            holder_name=name.strip(),
        )


# --------------------------------------------------------------------------------------------
# Rules and pure checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRules:
    """Payment limits and wording from the co-op profile (`payments` and `billing` sections)."""

    minimum_cents: int = 100
    maximum_cents: int = 500_000
    warn_above_balance: bool = True
    posting_text: str = "1-2 business days"
    holidays: frozenset[date] = frozenset()
    timezone: str = "America/New_York"
    processor_timeout_seconds: float = 20.0

    @classmethod
    def from_profile(cls, profile: Any, *, processor_timeout_seconds: float = 20.0) -> PaymentRules:
        """Build from a `bot.profile.CoopProfile` (duck-typed)."""
        payments, billing = profile.payments, profile.billing
        holidays = frozenset(_holiday_date(h) for h in (getattr(profile, "holidays", None) or ()))
        coop = getattr(profile, "coop", None)
        return cls(
            minimum_cents=int(payments.minimum_cents),
            maximum_cents=int(payments.maximum_cents),
            warn_above_balance=bool(getattr(payments, "warn_above_balance", True)),
            posting_text=str(billing.online_payment_posting),
            holidays=frozenset(h for h in holidays if h is not None),
            timezone=str(getattr(coop, "timezone", None) or "America/New_York"),
            processor_timeout_seconds=processor_timeout_seconds,
        )


def _holiday_date(holiday: Any) -> date | None:
    if isinstance(holiday, date):
        return holiday
    value = getattr(holiday, "date", None)
    if value is None and isinstance(holiday, dict):
        value = holiday.get("date")
    return value if isinstance(value, date) else None


def check_amount(amount_cents: int, rules: PaymentRules) -> str | None:
    """Why this amount cannot be paid here (member wording), or None when it can."""
    if amount_cents < rules.minimum_cents:
        return f"The smallest payment I can take is {format_cents(rules.minimum_cents)}."
    if amount_cents > rules.maximum_cents:
        return (
            f"I can take payments up to {format_cents(rules.maximum_cents)} here. For a larger payment, "
            "please call member services."
        )
    return None


def amount_warning(
    amount_cents: int, balance_cents: int, rules: PaymentRules | None = None
) -> str | None:
    """A heads-up to show before confirming a payment larger than the balance, or None.

    Paying more than is owed is allowed (it becomes a credit); the member should just know.
    """
    if rules is not None and not rules.warn_above_balance:
        return None
    if amount_cents <= balance_cents:
        return None
    extra = amount_cents - max(balance_cents, 0)
    owed = (
        "you don't owe anything right now"
        if balance_cents <= 0
        else f"your balance is {format_cents(balance_cents)}"
    )
    return f"Just so you know, {owed}; the extra {format_cents(extra)} will be a credit on your account."


def posting_estimate(now: datetime, rules: PaymentRules | Any) -> str:
    """`1-2 business days (by Tuesday, December 1)`: the profile's posting text plus the latest date.

    Business days skip weekends and the profile's holidays, counted from the local date of `now`.
    Accepts `PaymentRules` or a profile. If the text has no "N business days" the text alone.
    """
    if not isinstance(rules, PaymentRules):
        rules = PaymentRules.from_profile(rules)
    match = re.search(r"(\d+)\s*business days?", rules.posting_text)
    if match is None:
        return rules.posting_text
    day = now.astimezone(ZoneInfo(rules.timezone)).date()
    remaining = int(match.group(1))
    while remaining > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in rules.holidays:
            remaining -= 1
    return f"{rules.posting_text} (by {day:%A, %B} {day.day})"


# --------------------------------------------------------------------------------------------
# The payment service
# --------------------------------------------------------------------------------------------

OutcomeStatus = Literal["succeeded", "declined", "failed", "pending", "refused"]

CONFIRMATION_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


def new_confirmation_number() -> str:
    return "P-" + "".join(secrets.choice(CONFIRMATION_ALPHABET) for _ in range(6))


DECLINE_MESSAGE = (
    "Your bank or card company declined the payment, so nothing was charged. You can try another "
    "payment method, or call member services."
)
ERROR_MESSAGE = (
    "Our payment system didn't respond, so the payment didn't go through and nothing was charged. "
    "Please try again in a few minutes, or call member services."
)


@dataclass(frozen=True)
class PaymentOutcome:
    """What happened to one `pay` call. `message` is safe to show the member as is."""

    status: OutcomeStatus
    message: str
    amount_cents: int
    payment_id: int | None = None
    confirmation_number: str | None = None
    method_label: str | None = None
    received_at: datetime | None = None
    reason: str | None = None  # machine-readable: below_minimum, foreign_method, declined, ...
    duplicate: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


@dataclass
class _Attempt:
    account_id: int
    member_id: int
    payment_method_id: int
    amount_cents: int
    idempotency_key: str
    channel: str
    actor: str
    verified_how: str
    conversation_id: str | None
    now: datetime
    label: str = ""
    token: str = field(default="", repr=False)


class PaymentService:
    """Takes payments with saved methods. One instance per process; it holds no session."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        processor: PaymentProcessor,
        rules: PaymentRules,
        *,
        duplicate_wait_seconds: float = 10.0,
        confirmation_numbers: Callable[[], str] = new_confirmation_number,
    ) -> None:
        self._sessions = session_factory
        self._processor = processor
        self._rules = rules
        self._duplicate_wait = duplicate_wait_seconds
        self._confirmation_numbers = confirmation_numbers

    async def pay(
        self,
        *,
        account_id: int,
        member_id: int,
        payment_method_id: int,
        amount_cents: int,
        idempotency_key: str,
        channel: str,
        actor: str,
        verified_how: str,
        conversation_id: str | None,
        now: datetime,
    ) -> PaymentOutcome:
        """Charge a saved method once per idempotency key. See the module docstring for the steps."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        attempt = _Attempt(
            account_id,
            member_id,
            payment_method_id,
            amount_cents,
            idempotency_key,
            channel,
            actor,
            verified_how,
            conversation_id,
            now,
        )
        existing = await self._existing(idempotency_key)
        if existing is not None:
            return await self._duplicate(attempt, existing)

        refusal = await self._validate(attempt)
        if refusal is not None:
            await self._audit(
                attempt, "payment.refused", {"reason": refusal.reason, "amount_cents": amount_cents}
            )
            return refusal

        payment_id = await self._insert_pending(attempt)
        if payment_id is None:  # another task holds this key
            existing = await self._existing(idempotency_key)
            assert existing is not None, "unique key conflict without a row"
            return await self._duplicate(attempt, existing)

        result = await self._charge(attempt)
        return await self._finish(attempt, payment_id, result)

    # -- steps ---------------------------------------------------------------------------------

    async def _existing(self, key: str) -> Payment | None:
        async with self._sessions() as session:
            return await session.scalar(select(Payment).where(Payment.idempotency_key == key))

    async def _validate(self, a: _Attempt) -> PaymentOutcome | None:
        def refuse(reason: str, message: str) -> PaymentOutcome:
            return PaymentOutcome(
                "refused", message, a.amount_cents, reason=reason, method_label=a.label or None
            )

        problem = check_amount(a.amount_cents, self._rules)
        if problem:
            reason = (
                "below_minimum" if a.amount_cents < self._rules.minimum_cents else "above_maximum"
            )
            return refuse(reason, problem)
        async with self._sessions() as session:
            account = await session.get(Account, a.account_id)
            method = await session.get(PaymentMethod, a.payment_method_id)
        if account is None or account.member_id != a.member_id:
            return refuse(
                "foreign_account",
                "I can't take a payment for that account here. Please call member services.",
            )
        if account.status == "final":
            return refuse(
                "closed_account",
                "That account is closed, so I can't take a payment for it here. Please call member services.",
            )
        if method is None or method.member_id != a.member_id:
            return refuse("foreign_method", "I couldn't find that payment method on your profile.")
        a.label = method_label(method.kind, method.brand, method.last4)
        a.token = method.token
        if not method.is_active:
            return refuse(
                "inactive_method", f"{a.label} is no longer active. Please choose another method."
            )
        today = a.now.astimezone(ZoneInfo(self._rules.timezone)).date()
        if (
            method.exp_month
            and method.exp_year
            and (today.year, today.month) > (method.exp_year, method.exp_month)
        ):
            return refuse(
                "expired_method",
                f"{a.label} has expired. Please choose another method or add a new one.",
            )
        return None

    async def _insert_pending(self, a: _Attempt) -> int | None:
        """Insert and commit the pending row; None if the idempotency key is already taken."""
        try:
            async with self._sessions() as session:
                payment = Payment(
                    account_id=a.account_id,
                    payment_method_id=a.payment_method_id,
                    amount_cents=a.amount_cents,
                    method_label=a.label,
                    status="pending",
                    idempotency_key=a.idempotency_key,
                    channel=a.channel,
                    created_at=a.now,
                )
                session.add(payment)
                await session.commit()
                return payment.id
        except IntegrityError:
            return None

    async def _charge(self, a: _Attempt) -> ProcessorResult:
        try:
            return await asyncio.wait_for(
                self._processor.charge(a.token, a.amount_cents, a.idempotency_key),
                timeout=self._rules.processor_timeout_seconds,
            )
        except TimeoutError:
            return ProcessorResult("error", None, "processor timeout")
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not leave the member hanging
            return ProcessorResult("error", None, f"processor exception: {type(exc).__name__}")

    async def _finish(
        self, a: _Attempt, payment_id: int, result: ProcessorResult
    ) -> PaymentOutcome:
        for _ in range(5):
            confirmation = self._confirmation_numbers() if result.status == "succeeded" else None
            try:
                async with self._sessions() as session:
                    values: dict[str, Any] = {"processor_reference": result.reference}
                    if result.status == "succeeded":
                        values |= {
                            "status": "succeeded",
                            "confirmation_number": confirmation,
                            "received_at": a.now,
                        }
                    elif result.status == "declined":
                        values |= {
                            "status": "declined",
                            "failure_reason": (result.decline_reason or "declined")[:200],
                        }
                    else:
                        values |= {
                            "status": "failed",
                            "failure_reason": (result.decline_reason or "processor error")[:200],
                        }
                    await session.execute(
                        update(Payment).where(Payment.id == payment_id).values(**values)
                    )
                    details: dict[str, Any] = {
                        "payment_id": payment_id,
                        "amount_cents": a.amount_cents,
                        "method": a.label,
                    }
                    if confirmation:
                        details["confirmation_number"] = confirmation
                    if result.status != "succeeded":
                        details["processor_reason"] = result.decline_reason
                    action = {"succeeded": "payment.succeeded", "declined": "payment.declined"}.get(
                        result.status, "payment.failed"
                    )
                    await self._audit_in(session, a, action, details)
                    await session.commit()
                break
            except IntegrityError:
                if result.status != "succeeded":
                    raise
                continue  # confirmation number collision: draw another
        else:
            raise RuntimeError("could not draw a unique confirmation number")
        async with self._sessions() as session:
            payment = await session.get(Payment, payment_id)
        assert payment is not None
        return self._outcome(payment, duplicate=False)

    async def _duplicate(self, a: _Attempt, payment: Payment) -> PaymentOutcome:
        """The first submission's result; waits (bounded) while it is still with the processor."""
        if payment.account_id != a.account_id or payment.amount_cents != a.amount_cents:
            await self._audit(
                a, "payment.refused", {"reason": "idempotency_key_reused", "payment_id": payment.id}
            )
            return PaymentOutcome(
                "refused",
                "Something went wrong on our side with that payment request. Nothing new was charged; "
                "please start the payment again.",
                a.amount_cents,
                reason="idempotency_key_reused",
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._duplicate_wait
        while payment.status == "pending" and loop.time() < deadline:
            await asyncio.sleep(0.05)
            refreshed = await self._existing(a.idempotency_key)
            payment = refreshed or payment
        await self._audit(
            a, "payment.duplicate", {"payment_id": payment.id, "status": payment.status}
        )
        return self._outcome(payment, duplicate=True)

    def _outcome(self, payment: Payment, *, duplicate: bool) -> PaymentOutcome:
        amount = format_cents(payment.amount_cents)
        common = {
            "amount_cents": payment.amount_cents,
            "payment_id": payment.id,
            "method_label": payment.method_label,
            "duplicate": duplicate,
        }
        if payment.status == "succeeded":
            if duplicate:
                message = (
                    f"That payment is already done (confirmation {payment.confirmation_number}). "
                    "Nothing more was charged."
                )
            else:
                message = (
                    f"Done. Payment of {amount} received, confirmation {payment.confirmation_number}. "
                    f"It posts in {self._rules.posting_text}."
                )
            return PaymentOutcome(
                "succeeded",
                message,
                confirmation_number=payment.confirmation_number,
                received_at=payment.received_at,
                **common,  # type: ignore[arg-type]
            )
        if payment.status == "declined":
            return PaymentOutcome("declined", DECLINE_MESSAGE, reason="declined", **common)  # type: ignore[arg-type]
        if payment.status == "failed":
            return PaymentOutcome("failed", ERROR_MESSAGE, reason="processor_error", **common)  # type: ignore[arg-type]
        return PaymentOutcome(
            "pending",
            "That payment is still being processed. Nothing more was charged; I'll have the result shortly.",
            reason="in_progress",
            **common,  # type: ignore[arg-type]
        )

    async def _audit(self, a: _Attempt, action: str, details: dict[str, Any]) -> None:
        async with self._sessions() as session:
            await self._audit_in(session, a, action, details)
            await session.commit()

    async def _audit_in(
        self, session: AsyncSession, a: _Attempt, action: str, details: dict[str, Any]
    ) -> None:
        await audit.record(
            session,
            actor=a.actor,
            action=action,
            account_id=a.account_id,
            conversation_id=a.conversation_id,
            channel=a.channel,
            verified_how=a.verified_how,
            details={"method": a.label, **details}
            if a.label and "method" not in details
            else details,
            now=a.now,
        )
